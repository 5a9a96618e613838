"""The web client's static files, in static/: index.html, style.css, and the script as ES
modules (app.js wires the others), all served by flat name."""
