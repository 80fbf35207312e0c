#!/bin/bash
# First boot of a LiveKit node (run by the launch template's user data; /etc/livekit/stack.env
# holds the stack's values). Builds livekit-server at the pinned version from its Go module, the
# same way livekit/build.sh does locally (checksums verified by the Go module mirror), tunes UDP
# buffers, runs livekit-server on the host network under systemd with its config rendered before
# each start, starts the scale-in drain watcher, and tells CloudFormation the node serves.
set -euo pipefail
# shellcheck disable=SC1091
source /etc/livekit/stack.env

signal() {  # report this node's result to the Auto Scaling group's creation/update policy
  /opt/aws/bin/cfn-signal --exit-code "$1" --region "$AWS_REGION" --stack "$STACK_NAME" \
    --resource "$SIGNAL_RESOURCE" || true
}
trap 'signal 1' ERR

dnf install -y --setopt=install_weak_deps=False golang aws-cfn-bootstrap

build=/var/tmp/livekit-build
mkdir -p "$build"
HOME=/root GOPATH="$build/gopath" GOCACHE="$build/cache" GOTOOLCHAIN=auto GOFLAGS=-buildvcs=false \
  GOBIN="$build/bin" go install "github.com/livekit/livekit-server/cmd/server@${LIVEKIT_VERSION}"
install -m 0755 "$build/bin/server" /usr/local/bin/livekit-server
rm -rf "$build"
/usr/local/bin/livekit-server --version

# WebRTC media is UDP: larger socket buffers avoid drops under load.
cat > /etc/sysctl.d/90-livekit.conf <<'SYSCTL'
net.core.rmem_max = 16777216
net.core.wmem_max = 16777216
net.core.rmem_default = 1048576
net.core.wmem_default = 1048576
SYSCTL
sysctl --system >/dev/null

id livekit >/dev/null 2>&1 || useradd --system --no-create-home --shell /sbin/nologin livekit

# SIGTERM makes livekit-server drain: no new rooms, wait for participants to leave; the stop
# timeout bounds that wait (LiveKitDrainSeconds), then systemd kills it.
cat > /etc/systemd/system/livekit.service <<UNIT
[Unit]
Description=LiveKit server (Airwaves)
Wants=network-online.target
After=network-online.target

[Service]
User=livekit
EnvironmentFile=/etc/livekit/stack.env
Environment=HOME=/run/livekit
RuntimeDirectory=livekit
ExecStartPre=/usr/bin/python3 /opt/airwaves/render_config.py /etc/livekit/livekit.yaml.tmpl /run/livekit/livekit.yaml
ExecStart=/usr/local/bin/livekit-server --config /run/livekit/livekit.yaml
KillSignal=SIGTERM
TimeoutStopSec=${DRAIN_SECONDS}
Restart=always
RestartSec=3
LimitNOFILE=1048576

[Install]
WantedBy=multi-user.target
UNIT

cat > /etc/systemd/system/livekit-drain.service <<'UNIT'
[Unit]
Description=Drain LiveKit rooms before Auto Scaling terminates this node
After=livekit.service

[Service]
EnvironmentFile=/etc/livekit/stack.env
ExecStart=/bin/bash /opt/airwaves/drain.sh
Restart=on-failure

[Install]
WantedBy=multi-user.target
UNIT

systemctl daemon-reload
systemctl enable --now livekit.service livekit-drain.service

for _ in $(seq 1 60); do
  if curl -sf "http://127.0.0.1:${SIGNAL_PORT}/" >/dev/null; then
    signal 0
    exit 0
  fi
  sleep 2
done
echo "livekit-server did not answer on port ${SIGNAL_PORT}" >&2
signal 1
exit 1
