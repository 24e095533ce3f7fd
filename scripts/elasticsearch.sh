#!/usr/bin/env bash
# Start, stop or query the local Elasticsearch that tests and `make test` use.
#
#   scripts/elasticsearch.sh start    fetch (once), unpack (once), start, wait for health, print the URL
#   scripts/elasticsearch.sh stop     stop the server started by `start` (pid file)
#   scripts/elasticsearch.sh status   print the URL and exit 0 when it answers, exit 1 otherwise
#
# The server is the minimal integ-test distribution from Maven Central, run with the machine's
# OpenJDK 17, bound to 127.0.0.1 on a free port, as a dedicated non-root user (Elasticsearch
# refuses to run as root). Nothing is written inside the repository.
#
# Environment:
#   BIOLEAK_ES_VERSION   distribution version (default: pinned below)
#   BIOLEAK_ES_HOME      where the server is unpacked and keeps data/logs (default /var/tmp/bioleak-es)
#   BIOLEAK_ES_USER      user to run as when started by root (default bioleak-es)
#   BIOLEAK_ES_PORT      HTTP port (default: a free port)
#   BIOLEAK_ES_TIMEOUT   seconds to wait for health (default 180)
#   ES_JAVA_HOME         JVM to use (default: the newest OpenJDK 17 under /usr/lib/jvm)
set -euo pipefail

VERSION="${BIOLEAK_ES_VERSION:-8.19.21}"
ES_HOME_ROOT="${BIOLEAK_ES_HOME:-/var/tmp/bioleak-es}"
ES_USER="${BIOLEAK_ES_USER:-bioleak-es}"
TIMEOUT="${BIOLEAK_ES_TIMEOUT:-180}"
ARTIFACT="org.elasticsearch.distribution.integ-test-zip:elasticsearch:${VERSION}:zip"
DIST_DIR="$ES_HOME_ROOT/elasticsearch-$VERSION"
DATA_DIR="$ES_HOME_ROOT/data"
LOG_DIR="$ES_HOME_ROOT/logs"
PID_FILE="$ES_HOME_ROOT/es.pid"
URL_FILE="$ES_HOME_ROOT/url"

die() { echo "elasticsearch.sh: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "missing '$1': $2"; }

find_java() {
    if [[ -n "${ES_JAVA_HOME:-}" ]]; then echo "$ES_JAVA_HOME"; return; fi
    local j
    for j in /usr/lib/jvm/java-17-openjdk-* /usr/lib/jvm/java-1.17.0-openjdk-*; do
        [[ -x "$j/bin/java" ]] && { echo "$j"; return; }
    done
    if command -v java >/dev/null 2>&1; then
        dirname "$(dirname "$(readlink -f "$(command -v java)")")"; return
    fi
    die "missing Java: install OpenJDK 17 (apt-get install openjdk-17-jre-headless) or set ES_JAVA_HOME"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

answers() {  # $1 = url; true when the cluster reports at least yellow
    curl -fsS --max-time 3 "$1/_cluster/health?wait_for_status=yellow&timeout=2s" >/dev/null 2>&1
}

as_es_user() {
    if [[ "$(id -u)" == 0 ]]; then runuser -u "$ES_USER" -- "$@"; else "$@"; fi
}

fetch_zip() {  # prints the path of the cached zip (a cache outside the repo, shared by all checkouts)
    local cache="${BIOLEAK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/bioleak}"
    local zip="$cache/elasticsearch-$VERSION.zip"
    if [[ ! -s "$zip" ]]; then
        need mvn "install Maven (apt-get install maven); it fetches the server from Maven Central"
        echo "fetching $ARTIFACT from Maven Central ..." >&2
        mkdir -p "$cache"
        mvn -B -q dependency:copy -Dartifact="$ARTIFACT" -DoutputDirectory="$cache" >&2 \
            || die "could not fetch $ARTIFACT with mvn (is Maven Central reachable?)"
        [[ -s "$zip" ]] || die "mvn reported success but $zip is missing"
    fi
    echo "$zip"
}

cmd_status() {
    [[ -f "$URL_FILE" ]] || { echo "not running" >&2; return 1; }
    local url; url="$(cat "$URL_FILE")"
    if answers "$url"; then echo "$url"; else echo "not answering at $url" >&2; return 1; fi
}

cmd_start() {
    need curl "install curl"
    need unzip "install unzip (apt-get install unzip)"
    need python3 "install python3"
    if cmd_status >/dev/null 2>&1; then cat "$URL_FILE"; return 0; fi
    local java_home; java_home="$(find_java)"
    [[ -x "$java_home/bin/java" ]] || die "ES_JAVA_HOME=$java_home has no bin/java"

    mkdir -p "$ES_HOME_ROOT"
    if [[ ! -x "$DIST_DIR/bin/elasticsearch" ]]; then
        local zip; zip="$(fetch_zip)"
        echo "unpacking $(basename "$zip") into $ES_HOME_ROOT ..." >&2
        rm -rf "$DIST_DIR.tmp" && mkdir -p "$DIST_DIR.tmp"
        unzip -q "$zip" -d "$DIST_DIR.tmp"
        mv "$DIST_DIR.tmp/elasticsearch-$VERSION" "$DIST_DIR" && rm -rf "$DIST_DIR.tmp"
    fi
    if [[ "$(id -u)" == 0 ]]; then
        id "$ES_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$ES_USER" \
            || die "could not create user $ES_USER"
    fi
    mkdir -p "$DATA_DIR" "$LOG_DIR"
    rm -f "$PID_FILE" "$URL_FILE"
    [[ "$(id -u)" == 0 ]] && chown -R "$ES_USER" "$ES_HOME_ROOT"

    local port="${BIOLEAK_ES_PORT:-$(free_port)}"
    local url="http://127.0.0.1:$port"
    echo "starting Elasticsearch $VERSION on $url (logs: $LOG_DIR) ..." >&2
    as_es_user env ES_JAVA_HOME="$java_home" ES_JAVA_OPTS="-Xms1g -Xmx1g" \
        "$DIST_DIR/bin/elasticsearch" -d -p "$PID_FILE" \
        -Ecluster.name=bioleak-test \
        -Ediscovery.type=single-node \
        -Enetwork.host=127.0.0.1 \
        -Ehttp.port="$port" \
        -Etransport.port=0 \
        -Expack.security.enabled=false \
        -Ecluster.routing.allocation.disk.threshold_enabled=false \
        -Eaction.destructive_requires_name=false \
        -Epath.data="$DATA_DIR" \
        -Epath.logs="$LOG_DIR" \
        >"$LOG_DIR/startup.out" 2>&1 \
        || { cat "$LOG_DIR/startup.out" >&2; die "Elasticsearch did not start (see $LOG_DIR)"; }

    local waited=0
    until answers "$url"; do
        if (( waited >= TIMEOUT )); then
            tail -n 30 "$LOG_DIR"/*.log >&2 2>/dev/null || true
            die "Elasticsearch did not become healthy within ${TIMEOUT}s (see $LOG_DIR)"
        fi
        if [[ -f "$PID_FILE" ]] && ! kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
            tail -n 30 "$LOG_DIR"/*.log >&2 2>/dev/null || true
            die "Elasticsearch exited during start-up (see $LOG_DIR)"
        fi
        sleep 1; waited=$((waited + 1))
    done
    echo "$url" > "$URL_FILE"
    echo "$url"
}

cmd_stop() {
    if [[ -f "$PID_FILE" ]]; then
        local pid; pid="$(cat "$PID_FILE")"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$PID_FILE" "$URL_FILE"
    echo "stopped" >&2
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
