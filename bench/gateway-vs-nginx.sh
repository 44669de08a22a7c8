#!/usr/bin/env bash
# gateway-vs-nginx.sh: a small non-streaming chat over TLS with keep-alive,
# measured with wrk against the mock model directly, through Perimeter's
# gateway, and through nginx configured as an equivalent TLS reverse proxy
# (real client address from X-Forwarded-For set by 127.0.0.1, allow
# 203.0.113.0/24, deny all, api-key check, access log), all to the same
# mock upstream (bench/cmd/benchmock) on loopback.
#
# Two rounds per target: saturation (closed loop, $CONNS connections) and
# half load (the same offered rate for all three: half of Perimeter's
# saturation throughput, paced with wrk's delay()). Prints a table and the
# ratios perimeter/nginx. Needs root (apt-get; unshare -m to give wrk a
# private /etc/hosts that maps the account's host name to 127.0.0.1, so its
# TLS server name matches the Host header). Everything is torn down on exit.
#
# Usage: sudo bench/gateway-vs-nginx.sh            (from the repository root)
# Env:   DURATION=10s CONNS=16 THREADS=1 HALF_CONNS=16
set -euo pipefail

DURATION=${DURATION:-10s}
CONNS=${CONNS:-16}
THREADS=${THREADS:-1}
HALF_CONNS=${HALF_CONNS:-16}
ALLOWED=203.0.113.9
DENIED=198.51.100.7
SUB=bench-gw
DEPLOYMENT=bench
ROOT=$(cd "$(dirname "$0")/.." && pwd)

need=()
command -v nginx >/dev/null || need+=(nginx)
command -v wrk >/dev/null || need+=(wrk)
command -v jq >/dev/null || need+=(jq)
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
if ((${#need[@]})); then
	echo "installing ${need[*]}" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
	# Debian may start its own nginx service; this script never uses it.
fi

WORK=$(mktemp -d /tmp/perimeter-gwbench.XXXXXX)
PIDS=()
cleanup() {
	set +e
	if [[ -f $WORK/nginx/nginx.pid ]]; then kill "$(cat "$WORK/nginx/nginx.pid")" 2>/dev/null; fi
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_for() { # file-or-port check command, up to 30 s
	for _ in $(seq 300); do if eval "$1"; then return 0; fi; sleep 0.1; done
	echo "timed out waiting for: $1" >&2; return 1
}

echo "building into $WORK" >&2
(cd "$ROOT" && go build -o "$WORK/perimeter" ./cmd/perimeter && go build -o "$WORK/benchmock" ./bench/cmd/benchmock)

HOST=$SUB.cognitiveservices.perimeter.localhost
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=$HOST" \
	-addext "subjectAltName=DNS:$HOST,IP:127.0.0.1" -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null

MOCK_HTTP=$(free_port)
MOCK_HTTPS=$(free_port)
NGINX_PORT=$(free_port)
"$WORK/benchmock" -http "127.0.0.1:$MOCK_HTTP" -https "127.0.0.1:$MOCK_HTTPS" \
	-cert "$WORK/cert.pem" -key "$WORK/key.pem" 2>"$WORK/mock.log" &
MOCK_PID=$!
PIDS+=($!)

cat >"$WORK/models.json" <<EOF
{"models":[{"format":"OpenAI","name":"bench-mock","version":"1","upstream":"http://127.0.0.1:$MOCK_HTTP/v1","capabilities":["chatCompletion"]}]}
EOF
"$WORK/perimeter" serve --data-dir "$WORK/data" --arm-addr 127.0.0.1:0 --gateway-addr 127.0.0.1:0 \
	--dns-addr 127.0.0.1:0 --egress-addr 127.0.0.1:0 --admin-addr 127.0.0.1:0 \
	--trusted-proxies 127.0.0.1/32 --models "$WORK/models.json" --log-format text 2>"$WORK/perimeter.log" &
PERIMETER_PID=$!
PIDS+=($!)
wait_for "[[ -s $WORK/data/ready.json ]]"
READY=$WORK/data/ready.json
ARM=$(jq -r .arm "$READY")
GW_PORT=$(jq -r .gateway "$READY" | sed 's/.*://')
CA=$(jq -r .caCert "$READY")
SUBS=$(jq -r .subscriptionId "$WORK/data/admin.json")
TOKEN=$(curl -sf --cacert "$CA" "$ARM/$(jq -r .tenantId "$WORK/data/admin.json")/oauth2/v2.0/token" \
	-d grant_type=client_credentials --data-urlencode "client_id=$(jq -r .clientId "$WORK/data/admin.json")" \
	--data-urlencode "client_secret=$(jq -r .clientSecret "$WORK/data/admin.json")" \
	--data-urlencode scope=https://management.azure.com/.default | jq -r .access_token)
arm() { # method path [body]
	curl -sf --cacert "$CA" -X "$1" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
		${3:+--data "$3"} "$ARM$2"
}
state() { arm GET "$1" | jq -r "$2"; }

RP=/subscriptions/$SUBS/providers/Microsoft.CognitiveServices
arm POST "$RP/register?api-version=2021-04-01" >/dev/null
wait_for "[[ \$(state '$RP?api-version=2021-04-01' .registrationState) == Registered ]]"
RG=/subscriptions/$SUBS/resourcegroups/bench-gw-rg
arm PUT "$RG?api-version=2025-04-01" '{"location":"eastus"}' >/dev/null
ACCT=$RG/providers/Microsoft.CognitiveServices/accounts/bench-gw
arm PUT "$ACCT?api-version=2024-10-01" '{"kind":"AIServices","location":"eastus","sku":{"name":"S0"},
  "properties":{"customSubDomainName":"'$SUB'","networkAcls":{"defaultAction":"Deny","ipRules":[{"value":"203.0.113.0/24"}]}}}' >/dev/null
wait_for "[[ \$(state '$ACCT?api-version=2024-10-01' .properties.provisioningState) == Succeeded ]]"
DEP=$ACCT/deployments/$DEPLOYMENT?api-version=2024-10-01
arm PUT "$DEP" '{"sku":{"name":"Standard","capacity":10},"properties":{"model":{"format":"OpenAI","name":"bench-mock","version":"1"}}}' >/dev/null
wait_for "[[ \$(state '$DEP' .properties.provisioningState) == Succeeded ]]"
KEY=$(arm POST "$ACCT/listKeys?api-version=2024-10-01" | jq -r .key1)
[[ -n $KEY && $KEY != null ]]

mkdir -p "$WORK/nginx/logs"
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log $WORK/nginx/logs/access.log combined buffer=64k flush=1s;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    upstream mock { server 127.0.0.1:$MOCK_HTTP; keepalive 64; }
    server {
        listen 127.0.0.1:$NGINX_PORT ssl;
        server_name $HOST;
        ssl_certificate $WORK/cert.pem;
        ssl_certificate_key $WORK/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        keepalive_requests 100000;
        set_real_ip_from 127.0.0.1;
        real_ip_header X-Forwarded-For;
        allow 203.0.113.0/24;
        deny all;
        location = /openai/deployments/$DEPLOYMENT/chat/completions {
            if (\$http_api_key != "$KEY") { return 401; }
            proxy_pass http://mock/v1/chat/completions;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header api-key "";
            proxy_buffering off;
        }
    }
}
EOF
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -t 2>/dev/null
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf"  # daemonizes; stopped from its pid file
wait_for "[[ -s $WORK/nginx/nginx.pid ]]"

printf '127.0.0.1 %s\n' "$HOST" >"$WORK/hosts"
BODY='{"messages":[{"role":"user","content":"Say hello to the benchmark."}],"max_tokens":16}'
PATH_GW="/openai/deployments/$DEPLOYMENT/chat/completions?api-version=2024-10-21"
declare -A URL=(
	[direct]="https://127.0.0.1:$MOCK_HTTPS/v1/chat/completions"
	[perimeter]="https://$HOST:$GW_PORT$PATH_GW"
	[nginx]="https://$HOST:$NGINX_PORT$PATH_GW"
)

# Sanity: each target answers 200 to the allowed address; both proxies
# refuse the other address with 403.
for t in direct perimeter nginx; do
	port=$(sed -E 's#https://[^:]+:([0-9]+).*#\1#' <<<"${URL[$t]}")
	code=$(curl -sk -o /dev/null -w '%{http_code}' --resolve "$HOST:$port:127.0.0.1" -H "api-key: $KEY" \
		-H "X-Forwarded-For: $ALLOWED" -H 'Content-Type: application/json' --data "$BODY" "${URL[$t]}")
	[[ $code == 200 ]] || { echo "$t answered $code to the allowed address" >&2; exit 1; }
	if [[ $t != direct ]]; then
		code=$(curl -sk -o /dev/null -w '%{http_code}' --resolve "$HOST:$port:127.0.0.1" -H "api-key: $KEY" \
			-H "X-Forwarded-For: $DENIED" -H 'Content-Type: application/json' --data "$BODY" "${URL[$t]}")
		[[ $code == 403 ]] || { echo "$t answered $code to the denied address, want 403" >&2; exit 1; }
	fi
done

lua() { # delay-ms
	cat <<EOF
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["api-key"] = "$KEY"
wrk.headers["X-Forwarded-For"] = "$ALLOWED"
EOF
	if (($1 > 0)); then echo "function delay() return $1 end"; fi
}
# proxy_pids name: the processes doing a target's proxying (none for direct).
proxy_pids() {
	case $1 in
	perimeter) echo "$PERIMETER_PID" ;;
	nginx) local m; m=$(cat "$WORK/nginx/nginx.pid"); echo "$m" $(pgrep -P "$m") ;;
	esac
}
# cpu_ticks pid...: user+system CPU time of the processes, in clock ticks.
cpu_ticks() {
	local p t=0
	for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
	echo "$t"
}
# run name conns delay-ms -> "rps p50 p99 proxy-cpu-us/req mock-cpu-us/req"
# CPU time per request is what each process spent (user + system) over the
# run divided by the requests wrk completed: unlike req/s, it hardly depends
# on what else shares the machine.
run() {
	lua "$3" >"$WORK/req.lua"
	local out pids pc0 mc0
	pids=$(proxy_pids "$1")
	# shellcheck disable=SC2086 # pids is a list
	pc0=$(cpu_ticks $pids) mc0=$(cpu_ticks "$MOCK_PID")
	out=$(unshare -m sh -c 'mount --bind "$1" /etc/hosts && shift && exec "$@"' sh "$WORK/hosts" \
		wrk -t "$THREADS" -c "$2" -d "$DURATION" --latency -s "$WORK/req.lua" "${URL[$1]}")
	echo "$out" >"$WORK/wrk-$1-$2-$3.txt"
	echo "--- $1 conns=$2 delay=${3}ms" >&2
	echo "$out" >&2
	if grep -q 'Non-2xx\|Socket errors' <<<"$out"; then echo "wrk reported errors for $1" >&2; exit 1; fi
	local rps p50 p99 n pc mc hz
	# shellcheck disable=SC2086 # pids is a list
	pc=$(($(cpu_ticks $pids) - pc0)) mc=$(($(cpu_ticks "$MOCK_PID") - mc0)) hz=$(getconf CLK_TCK)
	rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
	p50=$(awk '$1=="50%" {print $2}' <<<"$out")
	p99=$(awk '$1=="99%" {print $2}' <<<"$out")
	n=$(awk '/requests in/ {print $1}' <<<"$out")
	echo "$rps $(ms "$p50") $(ms "$p99") $(awk -v t="$pc" -v h="$hz" -v n="$n" 'BEGIN{printf "%.0f", t*1e6/h/n}') \
		$(awk -v t="$mc" -v h="$hz" -v n="$n" 'BEGIN{printf "%.0f", t*1e6/h/n}')"
}
ms() { awk -v v="$1" 'BEGIN { n=v+0; if (v ~ /us$/) n/=1000; else if (v ~ /ms$/) n=n; else if (v ~ /s$/) n*=1000; printf "%.3f", n }'; }

declare -A SAT HALF
# PROFILE=FILE also records a CPU profile of the Perimeter process during
# its saturation run (from /debug/pprof on the admin listener), and its
# allocation profile afterwards in FILE.allocs.
if [[ -n "${PROFILE:-}" ]]; then
	(sleep 1 && curl -sf "$(jq -r .admin "$READY")/debug/pprof/profile?seconds=$((${DURATION%s} - 2))" -o "$PROFILE") &
	prof=$!
	SAT[perimeter]=$(run perimeter "$CONNS" 0)
	wait "$prof" # only the profiler: a bare wait would wait for the servers too
	# Allocations since the process started, most of them from that run.
	curl -sf "$(jq -r .admin "$READY")/debug/pprof/allocs" -o "$PROFILE.allocs"
fi
for t in direct perimeter nginx; do SAT[$t]=$(run "$t" "$CONNS" 0); done
read -r prps _ <<<"${SAT[perimeter]}"
RATE=$(awk -v r="$prps" 'BEGIN { printf "%d", r/2 }')
DELAY=$(awk -v r="$RATE" -v c="$HALF_CONNS" 'BEGIN { d=int(c*1000/r+0.5); if (d<1) d=1; print d }')
for t in direct perimeter nginx; do HALF[$t]=$(run "$t" "$HALF_CONNS" "$DELAY"); done

echo
echo "date: $(date -u +%FT%TZ)  machine: $(nproc) CPUs, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)  $(nginx -v 2>&1)  $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
echo "saturation: wrk -t$THREADS -c$CONNS -d$DURATION; half load: -c$HALF_CONNS with delay() ${DELAY} ms per connection (target ~$RATE req/s, half of Perimeter's saturation)"
printf '| %-9s | %10s | %8s | %8s | %10s | %8s | %8s | %14s | %14s | %13s | %12s |\n' target "sat req/s" "p50 ms" "p99 ms" "half req/s" "p50 ms" "p99 ms" "half +p50 ms" "half +p99 ms" "proxy cpu µs" "mock cpu µs"
printf '|%s|\n' "---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:"
read -r _ hd50 hd99 _ _ <<<"${HALF[direct]}"
for t in direct perimeter nginx; do
	read -r r50 s50 s99 pcpu mcpu <<<"${SAT[$t]}"
	read -r h h50 h99 _ _ <<<"${HALF[$t]}"
	printf '| %-9s | %10s | %8s | %8s | %10s | %8s | %8s | %14s | %14s | %13s | %12s |\n' "$t" "$r50" "$s50" "$s99" "$h" "$h50" "$h99" \
		"$(awk -v a="$h50" -v b="$hd50" 'BEGIN{printf "%.3f", a-b}')" "$(awk -v a="$h99" -v b="$hd99" 'BEGIN{printf "%.3f", a-b}')" "$pcpu" "$mcpu"
done
echo "(cpu µs: user+system CPU per request in the saturation round, of the proxy's processes and of the mock)"
read -r pr _ _ _ _ <<<"${SAT[perimeter]}"
read -r nr _ _ _ _ <<<"${SAT[nginx]}"
read -r _ _ ph99 _ _ <<<"${HALF[perimeter]}"
awk -v p="$pr" -v n="$nr" -v a="$ph99" -v d="$hd99" 'BEGIN {
	printf "perimeter/nginx throughput: %.2f (target >= 0.8: %s)\n", p/n, (p/n >= 0.8 ? "met" : "NOT met")
	printf "perimeter p99 added at half load: %.3f ms (target < 2 ms: %s)\n", a-d, (a-d < 2 ? "met" : "NOT met")
}'
