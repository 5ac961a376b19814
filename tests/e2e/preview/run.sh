#!/bin/sh
# End-to-end tests of `perfweave preview`: the server started on a free port against a small
# chapter (selftest experiments, cache in a temporary folder), then
#   - what it serves and refuses, with curl: traversal plain and percent-encoded, absolute paths,
#     backslashes, NUL, hidden folders, symlinks out of out/, listings, methods, Host headers,
#     content types, and that out/report.html on disk stays free of the injected script;
#   - where it listens: 127.0.0.1 only by default (no wildcard socket; another loopback address
#     is refused), a warning for --host 0.0.0.0; bad usage and a port in use exit 1;
#   - measuring in the background, with curl: a changed directive is published at once from its
#     previous result, marked stale, while a second child measures it; then the page's report is
#     rendered again with the new result;
#   - in headless Chromium (browser.mjs, playwright-core from tests/e2e/preview/package-lock.json,
#     installed here with `npm ci`; skipped, and said so, without node and npm): live reload of a
#     prose edit within 2 s, the overlay for a broken directive and for a crashing renderer,
#     recovery, a changed directive shown stale with the measuring progress and then reloaded
#     with its new result, and the exec of a rebuilt binary on the same port;
#   - Ctrl-C during a measurement: exit 130, out/ whole, no process left.
# Traffic goes to loopback addresses only.  Usage: tests/e2e/preview/run.sh BUILD/perfweave
set -u
real_bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../../.." || exit 1
tmp=$(mktemp -d)
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
. "$here/../../lib.sh"
skipped=0

if ! command -v curl >/dev/null; then
    echo "preview e2e: curl is missing (scripts/packages.txt lists it; make setup installs it)" >&2
    echo "preview e2e: 0 passed, 1 failed"
    exit 1
fi

# The server runs a copy of the binary, so that the test can "rebuild" it.
mkdir -p "$tmp/bin" "$tmp/ch"
cp "$real_bin" "$tmp/bin/perfweave"
bin="$tmp/bin/perfweave"
chapter="$tmp/ch/ch.md"
cat >"$chapter" <<'MD'
# Preview

Prose before the edit, with a value `=fixed.count`.

```experiment selftest.fixed
id: fixed
values: [1, 2, 3]
```
MD

# start_preview NAME ARGS...: runs the preview in the background; sets url, pid.
start_preview() {
    name=$1
    shift
    "$bin" preview --port 0 --templates templates "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
    pid=$!
    pids="$pids $pid"
    url=""
    i=0
    while [ $i -lt 100 ] && [ -z "$url" ]; do
        url=$(sed -n 's/.* at \(http:[^ ]*\) (Ctrl-C stops)$/\1/p' "$tmp/$name.out" | head -1)
        [ -z "$url" ] && sleep 0.1
        i=$((i + 1))
    done
    [ -n "$url" ] || { fail "$name: no URL printed"; sed 's/^/    /' "$tmp/$name.err" >&2; }
}
# wait_rendered: until the server has finished a render (at most 20 s).
wait_rendered() {
    i=0
    while [ $i -lt 200 ]; do
        curl -s "${url}__preview/state" 2>/dev/null | grep -q '"renders":[1-9]' && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
# wait_settled: until a render has published everything measured: nothing left to measure, no
# render or measurement running (at most 30 s).
wait_settled() {
    i=0
    while [ $i -lt 300 ]; do
        curl -s "${url}__preview/state" 2>/dev/null |
            grep '"renders":[1-9]' | grep '"pending":0,' | grep '"render":{"running":false' |
            grep -q '"measure":{"running":false' && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
# wait_state PATTERN: until the state matches the grep pattern (at most 20 s).
wait_state() {
    i=0
    while [ $i -lt 200 ]; do
        curl -s "${url}__preview/state" 2>/dev/null | grep -q -- "$1" && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
code() { curl -s -o /dev/null -w '%{http_code}' --path-as-is "$@"; }
expect_code() { # code path [curl args] what...
    want=$1 path=$2
    shift 2
    got=$(code "$@" "$url${path#/}")
    if [ "$got" = "$want" ]; then ok; else fail "GET /${path#/} $*: HTTP $got, expected $want"; fi
}

start_preview main --cache "$tmp/cache" --no-archive -o "$tmp/out" "$chapter"
main_pid=$pid
host=${url#http://}
host=${host%/}
port=${host##*:}
# The cache is empty: the first render shows the directive as not measured yet, a measurement
# follows, and then a render with its result.
if wait_settled; then ok; else fail "the first render and measurement did not finish"; sed 's/^/    /' "$tmp/main.err" >&2; fi
expect_grep "preview: measuring (1 directive to measure)" "$tmp/main.err" "the first render's directive was measured"

# --- what it serves -------------------------------------------------------------------------
expect_code 200 /
expect_code 200 /report.html
expect_code 200 /results.json
body=$(curl -s "$url")
case $body in *"Prose before the edit"*'<script nonce="'*) ok ;; *) fail "/ lacks the report or the script" ;; esac
if grep -q "__preview" "$tmp/out/report.html"; then fail "the script was written into out/report.html"; else ok; fi
ctype() { curl -s -o /dev/null -w '%{content_type}' "$url$1"; }
[ "$(ctype report.html)" = "text/html; charset=utf-8" ] && ok || fail "report.html content type $(ctype report.html)"
[ "$(ctype results.json)" = "application/json" ] && ok || fail "results.json content type $(ctype results.json)"
svg=$(cd "$tmp/out" && ls figures/*.svg | head -1)
gp=$(cd "$tmp/out" && ls figures/*.gp | head -1)
dat=$(cd "$tmp/out" && ls figures/*.dat | head -1)
[ "$(ctype "$svg")" = "image/svg+xml" ] && ok || fail "$svg content type $(ctype "$svg")"
[ "$(ctype "$gp")" = "text/plain; charset=utf-8" ] && ok || fail "$gp content type $(ctype "$gp")"
[ "$(ctype "$dat")" = "text/plain; charset=utf-8" ] && ok || fail "$dat content type $(ctype "$dat")"
heads=$(curl -s -I "$url")
case $heads in *"HTTP/1.1 200"*"Content-Security-Policy: default-src 'none'"*) ok ;; *) fail "HEAD / headers: $heads" ;; esac
[ -z "$(curl -s -I "$url" | sed -n '/^\r$/,$p' | tail -n +2)" ] && ok || fail "HEAD sent a body"

# --- what it refuses ------------------------------------------------------------------------
echo "outside the output folder" >"$tmp/secret.txt"
ln -s "$tmp/secret.txt" "$tmp/out/leak.txt"
ln -s .. "$tmp/out/up"
ln -s /etc "$tmp/out/etc"
for path in /../secret.txt /../../../../etc/passwd /figures/../../secret.txt /%2e%2e/secret.txt \
            /%2E%2E/%2e%2e/etc/passwd /figures/%2e%2e%2f%2e%2e%2fsecret.txt /..%2fsecret.txt \
            //etc/passwd /%2fetc%2fpasswd /%2F%2Fetc/passwd /figures%5c..%5c..%5csecret.txt \
            '/..\secret.txt' /report.html%00.txt /%00 /.staging-1/report.html /.latex/report.aux \
            /leak.txt /up/secret.txt /etc/passwd /./report.html; do
    got=$(code "$url${path#/}")
    case $got in 403|404) ok ;; *) fail "GET $path: HTTP $got, expected 403 or 404" ;; esac
done
# An absolute URL with a scheme, as a proxy would receive it, is not a path.
got=$(curl -s -o /dev/null -w '%{http_code}' --request-target "file:///etc/passwd" "$url")
case $got in 400|403|404) ok ;; *) fail "GET file:///etc/passwd: HTTP $got" ;; esac
expect_code 404 /figures/
expect_code 404 /figures
expect_code 404 /missing.html
expect_code 200 "/%72eport.html"        # percent-escapes are decoded, once
expect_code 404 "/%252e%252e/secret.txt" # decoded once: a file named "%2e%2e", which is missing
for m in POST PUT DELETE PATCH OPTIONS TRACE; do
    got=$(code -X "$m" "$url")
    [ "$got" = 405 ] && ok || fail "$m /: HTTP $got, expected 405"
done
curl -s -D "$tmp/post.h" -o /dev/null -X POST --data 'x=1' "$url"
expect_grep "Allow: GET, HEAD" "$tmp/post.h" "405 names the allowed methods"
expect_code 403 / -H "Host: evil.example"
expect_code 403 / -H "Host: evil.example:$port"
expect_code 403 / -H "Host: 127.0.0.1:$((port == 65535 ? 1 : port + 1))"
expect_code 403 / -H "Host: 127.0.0.2:$port"
expect_code 200 / -H "Host: localhost:$port"
got=$(curl -s -o /dev/null -w '%{http_code}' -0 -H 'Host:' "$url")
[ "$got" = 400 ] && ok || fail "a request without Host: HTTP $got, expected 400"

# --- where it listens ------------------------------------------------------------------------
# Only 127.0.0.1:PORT: no wildcard socket (which any address of the machine would reach), and a
# connection to another loopback address (127.0.0.2, still this machine) is refused.  The
# machine's other addresses are not sent anything.
hexport=$(printf '%04X' "$port")
if grep -q "^ *[0-9]*: 0100007F:$hexport 00000000:0000 0A" /proc/net/tcp; then ok; else fail "no listening socket on 127.0.0.1:$port"; fi
if grep -q "^ *[0-9]*: 00000000:$hexport 00000000:0000 0A" /proc/net/tcp ||
   grep -q "^ *[0-9]*: 00000000000000000000000000000000:$hexport 00000000000000000000000000000000:0000 0A" /proc/net/tcp6 2>/dev/null; then
    fail "a wildcard socket listens on port $port"
else ok; fi
if curl -s -o /dev/null --max-time 5 "http://127.0.0.2:$port/"; then fail "reachable on 127.0.0.2:$port"; else ok; fi

"$bin" preview --port "$port" -o "$tmp/out2" "$chapter" >/dev/null 2>"$tmp/inuse.err"; s=$?
expect_status 1 $s "a port in use"
expect_grep "cannot listen on 127.0.0.1:$port: Address already in use" "$tmp/inuse.err" "port in use message"
"$bin" preview --port 70000 >/dev/null 2>"$tmp/usage1.err"; s=$?
expect_status 1 $s "a bad port"
"$bin" preview --host example.org >/dev/null 2>"$tmp/usage2.err"; s=$?
expect_status 1 $s "a host name for --host"
expect_grep "expects an IP address" "$tmp/usage2.err" "--host message"
"$bin" preview "$tmp/ch/missing.md" >/dev/null 2>"$tmp/usage3.err"; s=$?
expect_status 1 $s "a missing chapter"
expect_grep "missing.md: cannot read chapter" "$tmp/usage3.err" "missing chapter message"

# Elsewhere than loopback: a warning, and the Host check still holds (asked through 127.0.0.1).
main_url=$url
start_preview wild --host 0.0.0.0 --cache "$tmp/cache" --no-archive -o "$tmp/outw" "$chapter"
wild_pid=$pid
expect_grep "warning: listening on 0.0.0.0:" "$tmp/wild.err" "warning for a non-loopback address"
case $url in http://127.0.0.1:*) ok ;; *) fail "the wildcard server's URL is $url" ;; esac
wait_rendered || fail "the wildcard server did not render"
expect_code 200 /
expect_code 403 / -H "Host: evil.example:${url##*:}"
kill -TERM "$wild_pid"
wait "$wild_pid"; s=$?
expect_status 143 $s "SIGTERM"
url=$main_url

# --- measuring in the background ------------------------------------------------------------
# A changed directive: the render publishes at once with its previous result marked stale, the
# measurement runs beside it (its progress in the state), and a render after it has the result.
cp "$chapter" "$tmp/chapter.orig"
sed -i 's/values: \[1, 2, 3\]/values: [1, 2, 6]\ndelay: 2/' "$chapter"
if wait_state '"measure":{"running":true,"progress":"\[1/1\] fixed (selftest.fixed)'; then ok
else fail "no measurement of the changed directive in the state"; curl -s "${url}__preview/state" >&2; fi
page=$(curl -s "$url")
case $page in *'class="experiment stale" id="result-fixed"'*) ok ;; *) fail "the changed directive is not shown stale meanwhile" ;; esac
case $page in *"the directive changed: this is its previous result"*) ok ;; *) fail "no stale sentence on the page" ;; esac
case $page in *"5.4–6.6"*) fail "the new value is on the page before it was measured" ;; *) ok ;; esac
if wait_settled; then ok; else fail "the measurement and the render after it did not finish"; fi
page=$(curl -s "$url")
case $page in *'class="experiment stale"'*) fail "still stale after the measurement" ;; *) ok ;; esac
case $page in *"5.4–6.6"*) ok ;; *) fail "the measured value is not on the page" ;; esac
cp "$tmp/chapter.orig" "$chapter"
wait_settled || fail "the restored chapter did not render"

# --- in a browser -----------------------------------------------------------------------------
if command -v node >/dev/null && command -v npm >/dev/null; then
    # npm ci only when the lock file changed since the last install (npm writes its own copy).
    if ! cmp -s "$here/package-lock.json" "$here/node_modules/.package-lock.json.installed" 2>/dev/null; then
        (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) >"$tmp/npm.log" 2>&1 &&
            cp "$here/package-lock.json" "$here/node_modules/.package-lock.json.installed" ||
            { fail "npm ci in tests/e2e/preview failed"; sed 's/^/    /' "$tmp/npm.log" >&2; }
    fi
    if [ -d "$here/node_modules/playwright-core" ]; then
        PREVIEW_URL=$url PREVIEW_CHAPTER=$chapter PREVIEW_BIN=$bin PREVIEW_REAL_BIN=$real_bin \
            node "$here/browser.mjs" >"$tmp/browser.out" 2>&1; s=$?
        sed 's/^/    /' "$tmp/browser.out" >&2
        expect_status 0 $s "the browser test"
        expect_grep "restarted: serving" "$tmp/main.out" "the rebuilt binary took over"
        if kill -0 "$main_pid" 2>/dev/null; then ok; else fail "the server died"; fi
        case $(tr '\0' ' ' </proc/"$main_pid"/cmdline 2>/dev/null) in
            "$bin preview"*) ok ;; *) fail "after the exec, process $main_pid is not the preview" ;; esac
    fi
else
    skipped=$((skipped + 1))
    echo "preview e2e: SKIPPED the browser test: node and npm are not installed" >&2
fi

# --- Ctrl-C while a measurement runs ---------------------------------------------------------
wait_settled
cat >>"$chapter" <<'MD'

```experiment selftest.crash
id: stuck
mode: hang
timeout: 60
```
MD
# The render publishes the hanging directive as not measured yet; the measurement hangs on it.
if wait_state '"measure":{"running":true,"progress":"\[2/2\] stuck'; then ok; else fail "the hanging measurement did not start"; fi
expect_grep 'class="experiment unmeasured" id="result-stuck"' "$tmp/out/report.html" "the new directive is shown as not measured yet"
before=$(cksum <"$tmp/out/report.html")
sleep 0.5 # well inside the measurement
kill -INT "$main_pid"
wait "$main_pid"; s=$?
expect_status 130 $s "Ctrl-C"
expect_grep "stopping (signal 2)" "$tmp/main.err" "the stop is reported"
expect_grep "the measurement was stopped" "$tmp/main.err" "the measurement is stopped"
[ "$(cksum <"$tmp/out/report.html")" = "$before" ] && ok || fail "the stop changed out/report.html"
if ls -A "$tmp/out" | grep -q staging; then fail "a staging folder was left in out/"; else ok; fi
if pgrep -f "$tmp/bin/perfweave" >/dev/null; then fail "a process of the preview survived"; pgrep -af "$tmp/bin/perfweave" >&2; else ok; fi
if curl -s -o /dev/null --max-time 2 "$url"; then fail "still serving after Ctrl-C"; else ok; fi

echo "preview e2e: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
