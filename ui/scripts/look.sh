#!/usr/bin/env bash
# Screenshots of every screen, from the demo build served under the app's own CSP.
#
# Builds `dist-demo` (the in-memory backend, never part of the real build), serves it
# with `vite preview` (which sends the Content-Security-Policy of tauri.conf.json), opens
# each screen in headless Chromium and writes PNGs to $OUT (default /tmp/salon-screens).
# Fails when the page logs a CSP violation or an uncaught error.
# Needs Chromium (Debian: apt-get install chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/salon-screens}
PORT=${PORT:-4173}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
mkdir -p "$OUT"

./node_modules/.bin/vite build --mode demo --outDir dist-demo --logLevel error
./node_modules/.bin/vite preview --mode demo --outDir dist-demo --port "$PORT" --strictPort >"$OUT/preview.log" 2>&1 &
preview=$!
trap 'kill "$preview" 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sf "http://localhost:$PORT/" >/dev/null && break; sleep 0.2; done

shot() { # name query [dark]
  local name=$1 query=$2 profile
  profile=$(mktemp -d)
  local flags=()
  [[ ${3:-} == dark ]] && flags+=(--force-dark-mode --blink-settings=preferredColorScheme=0)
  timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --hide-scrollbars "${flags[@]}" --enable-logging=stderr --v=1 \
    --window-size=1100,720 --virtual-time-budget=4000 \
    --screenshot="$OUT/$name.png" "http://localhost:$PORT/?$query" >/dev/null 2>"$OUT/$name.log" || true
  rm -rf "$profile"
  if grep "INFO:CONSOLE" "$OUT/$name.log" | grep -Ei "Content Security Policy|Uncaught"; then
    echo "$name: the page reported the errors above" >&2
    return 1
  fi
  echo "$OUT/$name.png"
}

status=0
for screen in onboarding hallway room menu room-listener invite messages safety settings offline; do
  shot "$screen" "screen=$screen" || status=1
done
shot room-dark "screen=room" dark || status=1
shot hallway-fr "screen=hallway&lang=fr" || status=1
shot settings-wayland-fr "screen=settings&wayland=1&lang=fr" || status=1
exit $status
