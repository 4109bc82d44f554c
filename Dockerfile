# The dashboard image (also runs the optional Mongo → InfluxDB bridge).
#
#   docker build -t iotbench/app:local .      (docker compose builds it as the dashboard service)
#   docker run --rm -p 127.0.0.1:5000:5000 -e IOTBENCH_DASHBOARD_MONGO_URI=... iotbench/app:local
#
# Installs the project itself (pip install --no-deps .) plus only the runtime dependencies the
# dashboard and the bridge import (flask, waitress, pymongo), with the version ranges read from
# pyproject.toml at build time: the full dependency set (pyspark, pandas, locust, ...) is the
# harness's and would add more than a gigabyte the web app never loads.

# ---- front-end libraries (Chart.js, Bootstrap, Font Awesome) with npm, at build time only ----
FROM python:3.11-slim AS assets
RUN apt-get update \
    && apt-get install -y --no-install-recommends npm \
    && rm -rf /var/lib/apt/lists/*
# assets.py is stdlib-only: the same package list and layout check as `iotbench setup`
COPY system/dashboard/assets.py /build/assets.py
RUN cd /build && python -c "from pathlib import Path; import assets; assets.install_assets(Path('/opt/iotbench-cache'))"

# ---- the app --------------------------------------------------------------------------------
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    IOTBENCH_CACHE=/opt/iotbench-cache
WORKDIR /app
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; wanted = {'flask', 'waitress', 'pymongo'}; name = lambda d: d.replace(' ', '').split('[')[0].split('=')[0].split('<')[0].split('>')[0].split('!')[0].split('~')[0].lower(); print('\n'.join(d for d in deps if name(d) in wanted))" > /tmp/runtime-requirements.txt \
    && test "$(wc -l < /tmp/runtime-requirements.txt)" -eq 3 \
    && pip install -r /tmp/runtime-requirements.txt
COPY system ./system
COPY benchmarks ./benchmarks
COPY load ./load
COPY reports ./reports
RUN pip install --no-deps . \
    && useradd --system --uid 10001 --home-dir /nonexistent iotbench
COPY --from=assets /opt/iotbench-cache/npm/node_modules /opt/iotbench-cache/npm/node_modules
# run from outside the source tree so the installed package is the one imported
WORKDIR /home
USER iotbench
EXPOSE 5000
CMD ["python", "-m", "system.dashboard.wsgi", "--host", "0.0.0.0", "--port", "5000"]
