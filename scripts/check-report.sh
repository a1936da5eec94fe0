#!/usr/bin/env bash
# Browser check of the HTML report: runs the demo park with --report, renders the report in
# headless Chromium (Debian's package, installed here when missing, with a CJK font for the
# standards' Chinese names), and fails on console errors, network fetches, a blank page or
# missing charts. Leaves target/report-check/{report.html,dom.html,chromium.log,report.png}.
# Then the same checks, lighter, on the replay page of the metered park (replay/replay.html).
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/report-check
mkdir -p "$out"

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
# (grep without -q reads all of fc-list's output: no SIGPIPE under pipefail)
fc-list 2>/dev/null | grep -iE 'wenquanyi|wqy|noto sans cjk' >/dev/null || need+=(fonts-wqy-microhei)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

cargo run --release --quiet -- run scenarios/demo_park.ron --out "$out/run" --report "$out/report.html" >/dev/null

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
chrome() {
    timeout 120 /usr/bin/chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$profile" --hide-scrollbars --enable-logging=stderr --v=0 "$@"
}
url="file://$PWD/$out/report.html"
fail() { echo "report check failed: $*" >&2; exit 1; }
# Chromium may stumble on a loaded machine: one retry, then show its log.
render() {
    local log=$1 dest=$2
    shift 2
    for attempt in 1 2; do
        if chrome "$@" >"$dest" 2>>"$log"; then
            return 0
        fi
        echo "chromium exited with status $? (attempt $attempt)" >>"$log"
        sleep 2
    done
    tail -n 20 "$log" >&2
    fail "chromium could not render the report"
}
: >"$out/chromium.log"
render "$out/chromium.log" "$out/dom.html" --dump-dom "$url"
render "$out/chromium.log" /dev/null --window-size=1100,5000 --screenshot="$out/report.png" "$url"
# Console errors and fetches (a self-contained page makes none).
if grep -E 'CONSOLE|Uncaught|net::ERR_' "$out/chromium.log" | grep -v 'dbus' >"$out/errors.log"; then
    cat "$out/errors.log" >&2
    fail "console errors or network fetches (see $out/chromium.log)"
fi
# Charts: every expected chart is an <svg> with drawn content.
svgs=$(grep -o '<svg' "$out/dom.html" | wc -l)
[ "$svgs" -ge 7 ] || fail "expected at least 7 SVG charts, found $svgs"
paths=$(grep -o '<path' "$out/dom.html" | wc -l)
lines=$(grep -o '<polyline\|<polygon' "$out/dom.html" | wc -l)
rects=$(grep -o '<rect' "$out/dom.html" | wc -l)
[ "$paths" -ge 10 ] && [ "$lines" -ge 3 ] && [ "$rects" -ge 30 ] \
    || fail "charts look empty (paths $paths, lines $lines, rects $rects)"
for title in 'Water through the park' 'Intake by source kind' 'Stored volume of tanks' \
    'TDS concentration' 'Energy by origin' 'Carbon by origin' 'Unit-product intake vs 2020' \
    'KPIs against targets' 'Water balance (GB/T 12452)'; do
    grep -qF "$title" "$out/dom.html" || fail "missing \"$title\""
done
# Non-blank: the rendered text and the screenshot both carry content.
text=$(sed -e 's/<[^>]*>//g' "$out/dom.html" | tr -s ' \n' | wc -c)
[ "$text" -ge 3000 ] || fail "page text too short ($text characters)"
png=$(stat -c %s "$out/report.png")
[ "$png" -ge 40000 ] || fail "screenshot looks blank ($png bytes)"
echo "report check passed: $svgs charts, $text characters of text, screenshot $out/report.png ($png bytes)"

# The replay page of the metered park (docs/twin.md): synthetic readings, replay --out, render.
bin=target/release/parktwin
"$bin" run scenarios/metered_park.ron --meters "$out/readings.csv" >/dev/null
"$bin" replay scenarios/metered_park.ron --meters "$out/readings.csv" --out "$out/replay" >/dev/null
url="file://$PWD/$out/replay/replay.html"
: >"$out/replay-chromium.log"
render "$out/replay-chromium.log" "$out/replay-dom.html" --dump-dom "$url"
if grep -E 'CONSOLE|Uncaught|net::ERR_' "$out/replay-chromium.log" | grep -v 'dbus' >"$out/errors.log"; then
    cat "$out/errors.log" >&2
    fail "replay page: console errors or network fetches (see $out/replay-chromium.log)"
fi
svgs=$(grep -o '<svg' "$out/replay-dom.html" | wc -l)
[ "$svgs" -ge 5 ] || fail "replay page: expected at least 5 SVG charts, found $svgs"
lines=$(grep -o '<polyline' "$out/replay-dom.html" | wc -l)
[ "$lines" -ge 10 ] || fail "replay page: charts look empty ($lines lines)"
for title in 'Observability' 'Reconciled and measured series' 'Gross-error tests' 'Leak alarms' \
    'Concentrations (TDS)' 'Conductivity meters'; do
    grep -qF "$title" "$out/replay-dom.html" || fail "replay page: missing \"$title\""
done
echo "replay page check passed: $svgs charts, $lines lines"
