# tcpchat as a container: one server (IRC and plain text on 6667, TLS on 6697 when given a
# certificate, the web client, IRC over WebSocket and /healthz on 8080), its data in /data.
#
#   docker build -t tcpchat .
#   docker run -d --name tcpchat -p 6667:6667 -p 8080:8080 -v tcpchat-data:/data tcpchat
#   docker run ... tcpchat --cluster redis://redis:6379/0     # arguments are added to the server's
#
# The base is python:3.11-slim (Debian, glibc), not -alpine: uvloop and hiredis come as
# manylinux wheels, so nothing is compiled and no compiler enters the image; it is the libc and
# the Python the project is tested on. Alpine's musl would save some 40 MB and cost source builds
# of the wheels it lacks. The build never installs from the network except pip from PyPI.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
# The server and what a server needs: the web port (web), --cluster (cluster), uvloop (fast).
COPY pyproject.toml README.md /src/
COPY src /src/src
RUN python3 -m venv /opt/tcpchat \
    && /opt/tcpchat/bin/pip install --no-cache-dir --disable-pip-version-check \
        "/src[web,cluster,fast]"

FROM ${PYTHON_IMAGE}
COPY --from=build /opt/tcpchat /opt/tcpchat
# Its own user, never root; /data is its data directory (accounts, channels, history), owned by
# that user before the VOLUME line so that a new named volume starts out owned by it too.
RUN groupadd --gid 10001 tcpchat \
    && useradd --uid 10001 --gid tcpchat --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin tcpchat \
    && mkdir /data && chown tcpchat:tcpchat /data && chmod 700 /data
ENV PATH=/opt/tcpchat/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER tcpchat
WORKDIR /data
VOLUME /data
# 6697 listens only with a certificate: mount one and add --tls-cert (see the README).
EXPOSE 6667 6697 8080
# /healthz on the web port, with Python's own urllib (no curl in the image). With a certificate
# the web port speaks HTTPS: then the second try, which needn't check our own certificate.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python3", "-c", "import ssl, urllib.request as web\ntry: web.urlopen('http://127.0.0.1:8080/healthz', timeout=2)\nexcept OSError: web.urlopen('https://127.0.0.1:8080/healthz', timeout=2, context=ssl._create_unverified_context())"]
# Every interface (the default --host), no console (no terminal to read), logs on stderr.
# Arguments given to `docker run IMAGE ...` come after these, and override them.
ENTRYPOINT ["tcpchat", "server", "--no-console", "--data-dir", "/data"]
CMD []
