#!/bin/sh
# mlc-proxy-reload [TIMEOUT_S]: check the new /etc/mlc-proxy/nginx.conf, reload the router nginx gracefully, and
# return only when every router worker runs the new configuration (the old workers have finished their requests and
# exited), so the caller may stop the containers the old configuration routed to. The edge nginx, which holds the
# clients' connections, is not reloaded.
set -eu
timeout_s="${1:-75}"
router_pid_file=/tmp/nginx.pid

# The pids of the worker processes of master $1 (nginx titles them "nginx: worker process").
workers() {
    for dir in /proc/[0-9]*; do
        case "$(tr '\0' ' ' < "$dir/cmdline" 2> /dev/null)" in
            "nginx: worker process"*)
                if [ "$(awk '/^PPid:/ { print $2 }' "$dir/status" 2> /dev/null)" = "$1" ]; then
                    echo "${dir#/proc/}"
                fi
                ;;
        esac
    done
}

# A process is gone when its /proc entry is, or when it is a zombie its master has not reaped yet.
alive() {
    [ -r "/proc/$1/stat" ] || return 1
    state=$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2> /dev/null) || return 1
    [ "$state" != "Z" ]
}

nginx -t -q -e stderr -c /etc/mlc-proxy/nginx.conf
if [ ! -s "$router_pid_file" ]; then
    # On standby (no router yet): PID 1, mlc-proxy-start, starts the router and the edge on SIGHUP.
    kill -HUP 1
    exit 0
fi
router=$(cat "$router_pid_file")
old=$(workers "$router")
# SIGHUP makes the router's master start new workers on the new configuration and ask the old ones to finish.
kill -HUP "$router"
deadline=$(( $(date +%s) + timeout_s ))
for pid in $old; do
    while alive "$pid"; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            echo "mlc-proxy-reload: nginx worker $pid still runs the old configuration after ${timeout_s} s" >&2
            exit 3
        fi
        sleep 0.01
    done
done
