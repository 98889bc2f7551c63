# Image for docker-compose's web, worker and scheduler services (people's own machines; no Docker engine in CI).
FROM python:3.11-slim
# Java 17 for the Spark trainer's driver (RECOMMENDATIONS_TRAINER=spark runs in the worker's process).
RUN apt-get update && apt-get install -y --no-install-recommends gcc libgomp1 openjdk-17-jre-headless \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
# LightFM compiles with -march=native by default: an image may run on another CPU, so build portable code.
RUN LIGHTFM_NO_CFLAGS=1 pip install --no-cache-dir -r requirements.txt
COPY . .
ENV DJANGO_SETTINGS_MODULE=musicbud.settings PYTHONUNBUFFERED=1 VENV_BIN=/usr/local/bin
EXPOSE 8000
CMD ["scripts/serve.sh", "0.0.0.0", "8000", "2"]
