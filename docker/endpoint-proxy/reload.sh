#!/bin/sh
# mlc-proxy-reload [TIMEOUT_S]: check the new /etc/mlc-proxy/nginx.conf, reload nginx gracefully, and return only when
# every worker runs the new configuration (the old workers have finished their requests and exited), so the caller
# may stop the containers the old configuration routed to.
set -eu
timeout_s="${1:-75}"

# The pids of the current worker processes (nginx titles them "nginx: worker process").
workers() {
    for dir in /proc/[0-9]*; do
        case "$(tr '\0' ' ' < "$dir/cmdline" 2> /dev/null)" in
            "nginx: worker process"*) echo "${dir#/proc/}" ;;
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
old=$(workers)
# PID 1 is the nginx master: SIGHUP makes it start new workers on the new configuration and ask the old ones to
# finish gracefully. (Before the first model PID 1 is mlc-proxy-start, which SIGHUP turns into that master.)
kill -HUP 1
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
