"""The web client's static files: index.html, app.js and style.css, in static/."""
