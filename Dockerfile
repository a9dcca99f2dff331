# The mlops-mentor GitHub App, one image for both roles:
#   docker build -t mlops-mentor .
#   web server + embedded job consumer (one machine, nothing else to run):
#     docker run -p 8000:8000 -v mentor-data:/data --env-file mentor.env mlops-mentor
#   more job consumers (REDIS_URL and DATABASE_URL in mentor.env shared by every machine;
#   on the same machine, sharing /data is enough):
#     docker run --no-healthcheck -v mentor-data:/data --env-file mentor.env mlops-mentor \
#       mlops-mentor worker
# Pinned by tag, so rebuilding next month gives the same Python.
FROM python:3.11.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=8000 \
    MLOPS_MENTOR_DATA_DIR=/data

# An unprivileged user owns only the data folder (temporary checkouts, the results store,
# the job queue and the metrics files).
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin mentor \
    && mkdir /data && chown mentor:mentor /data

WORKDIR /app

# Dependencies first, in their own layer: rebuilt only when pyproject.toml changes. The
# `postgres` extra too, so DATABASE_URL may name a PostgreSQL server.
COPY pyproject.toml ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; deps = p['dependencies'] + p['optional-dependencies']['postgres']; open('/tmp/requirements.txt', 'w').write('\n'.join(deps))" \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Then the code (and the README that pyproject.toml names as the long description).
COPY README.md ./
COPY checks ./checks
COPY github_app ./github_app
RUN pip install --no-deps . && python -c "import github_app, checks"

USER mentor
VOLUME /data
EXPOSE 8000

# slim has no curl: ask /healthz with the standard library.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)"]

# `serve` runs gunicorn with github_app/gunicorn.conf.py: binds 0.0.0.0:$PORT, runs the
# embedded job consumer, and refuses to start (one line naming the variable) when the
# configuration is incomplete. GUNICORN_CMD_ARGS (e.g. "--workers 2 --threads 16")
# overrides it. `mlops-mentor worker` runs job consumers alone.
CMD ["mlops-mentor", "serve"]
