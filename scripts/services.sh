#!/usr/bin/env bash
# Start PostgreSQL and RabbitMQ if they are installed but not answering (tests need them for real).
# Temporal and TorchServe are started by the test fixtures themselves.
set -uo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! port_open 5432 && command -v pg_ctlcluster >/dev/null; then
    echo "==> starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
fi
if ! port_open 5672 && command -v rabbitmq-server >/dev/null; then
    echo "==> starting RabbitMQ"
    rabbitmq-server -detached || true
    for _ in $(seq 1 60); do port_open 5672 && break; sleep 1; done
fi
# The rendered-deployment test reads queue lengths through the management API, as KEDA does,
# and the monitoring tests scrape the broker's Prometheus endpoint, as the PodMonitor does.
if command -v rabbitmq-plugins >/dev/null && port_open 5672; then
    if ! port_open 15672 || ! port_open 15692; then
        echo "==> enabling rabbitmq_management and rabbitmq_prometheus"
        rabbitmq-plugins enable rabbitmq_management rabbitmq_prometheus >/dev/null || true
        for _ in $(seq 1 30); do port_open 15672 && port_open 15692 && break; sleep 1; done
    fi
fi
for port in 5432 5672 15672 15692; do
    port_open "$port" || echo "warning: nothing answers on 127.0.0.1:$port; tests that need it will fail under CI=true"
done
exit 0
