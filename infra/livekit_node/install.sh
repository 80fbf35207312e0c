#!/bin/bash
# First boot of a LiveKit node (run by the launch template's user data; /etc/livekit/stack.env
# holds the stack's values). Builds livekit-server at the pinned version from its Go module, the
# same way livekit/build.sh does locally (checksums verified by the Go module mirror), tunes UDP
# buffers, runs livekit-server on the host network under systemd with its config rendered before
# each start, installs the media worker beside it (the repository's livekit/worker at the stack's
# pinned commit, in its own Python 3.11 venv from that commit's pinned requirements.txt) under
# systemd after livekit-server with the CloudWatch agent shipping its log, starts the scale-in drain
# watcher, and tells CloudFormation the node serves.
set -euo pipefail
# shellcheck disable=SC1091
source /etc/livekit/stack.env

signal() {  # report this node's result to the Auto Scaling group's creation/update policy
  /opt/aws/bin/cfn-signal --exit-code "$1" --region "$AWS_REGION" --stack "$STACK_NAME" \
    --resource "$SIGNAL_RESOURCE" || true
}
trap 'signal 1' ERR

dnf install -y --setopt=install_weak_deps=False golang aws-cfn-bootstrap git python3.11

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

units="livekit.service livekit-drain.service"
if [ -n "${MEDIA_WORKER_REPOSITORY}" ]; then
  worker=/opt/airwaves/media-worker
  rm -rf "$worker"
  git clone --quiet --no-checkout "$MEDIA_WORKER_REPOSITORY" "$worker"
  git -C "$worker" checkout --quiet --detach "$MEDIA_WORKER_COMMIT"
  python3.11 -m venv /opt/airwaves/media-venv
  /opt/airwaves/media-venv/bin/pip install --quiet --no-cache-dir --upgrade pip
  /opt/airwaves/media-venv/bin/pip install --quiet --no-cache-dir \
    -r "$MEDIA_WORKER_SRC/requirements.txt"
  id airwaves-media >/dev/null 2>&1 || useradd --system --no-create-home --shell /sbin/nologin airwaves-media

  # The worker's JSON lines go to a file the CloudWatch agent ships to MEDIA_WORKER_LOG_GROUP (one
  # stream per instance; CloudWatch Logs extracts the EMF metrics in them), rotated by logrotate.
  worker_log=/var/log/airwaves-media/worker.log
  dnf install -y --setopt=install_weak_deps=False amazon-cloudwatch-agent logrotate
  install -d -o airwaves-media -g airwaves-media -m 0755 "$(dirname "$worker_log")"
  cat > /opt/aws/amazon-cloudwatch-agent/etc/airwaves-media.json <<AGENT
{"logs": {"logs_collected": {"files": {"collect_list": [{"file_path": "${worker_log}",
  "log_group_name": "${MEDIA_WORKER_LOG_GROUP}", "log_stream_name": "{instance_id}"}]}}}}
AGENT
  cat > /etc/logrotate.d/airwaves-media <<ROTATE
${worker_log} {
  daily
  maxsize 200M
  rotate 2
  compress
  missingok
  notifempty
  copytruncate
}
ROTATE
  systemctl enable --now logrotate.timer

  # SIGTERM makes the worker close its open recordings and upload them (AIRWAVES_MEDIA_FINALIZE_TIMEOUT
  # 300 s per job); the drain hook stops it after livekit-server has drained this node's rooms.
  cat > /etc/systemd/system/airwaves-media.service <<UNIT
[Unit]
Description=Airwaves media worker (recording, replay, clips, captions)
Wants=livekit.service
After=livekit.service network-online.target

[Service]
User=airwaves-media
EnvironmentFile=/etc/livekit/stack.env
Environment=HOME=/run/airwaves-media
RuntimeDirectory=airwaves-media
WorkingDirectory=/run/airwaves-media
StandardOutput=append:${worker_log}
StandardError=inherit
ExecStart=/usr/bin/python3 /opt/airwaves/render_config.py --exec-worker /opt/airwaves/media-venv/bin/python
KillSignal=SIGTERM
TimeoutStopSec=330
Restart=on-failure
RestartSec=5
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
UNIT
  units="$units airwaves-media.service"
  /opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s \
    -c file:/opt/aws/amazon-cloudwatch-agent/etc/airwaves-media.json
fi

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
# shellcheck disable=SC2086
systemctl enable --now $units

for _ in $(seq 1 60); do
  # only livekit-server gates the signal: on the first deploy the worker waits (restarting) until
  # media_worker_secret is put in the app secret, which happens after the stack exists.
  if curl -sf "http://127.0.0.1:${SIGNAL_PORT}/" >/dev/null; then
    signal 0
    exit 0
  fi
  sleep 2
done
echo "livekit-server did not answer on port ${SIGNAL_PORT}" >&2
signal 1
exit 1
