#!/bin/bash
# Scale-in drain. A room lives on one node, so a node Auto Scaling wants to terminate first waits
# in the lifecycle hook: this watcher sees the pending termination in instance metadata, stops
# livekit-server gracefully (it takes no new rooms and waits for its participants to leave, up to
# LiveKitDrainSeconds), then stops the media worker (it finalizes and uploads what it still
# records), then lets the termination continue.
set -euo pipefail

imds() {
  local token
  token=$(curl -sf -X PUT http://169.254.169.254/latest/api/token \
    -H 'X-aws-ec2-metadata-token-ttl-seconds: 60')
  curl -sf -H "X-aws-ec2-metadata-token: ${token}" "http://169.254.169.254/latest/meta-data/$1"
}

until [ "$(imds autoscaling/target-lifecycle-state || true)" = "Terminated" ]; do
  sleep 5
done
echo "termination pending: draining rooms"
systemctl stop livekit.service
systemctl stop airwaves-media.service || true
sleep 10  # the CloudWatch agent ships the worker's last lines (it sends every 5 s)
aws autoscaling complete-lifecycle-action --region "$AWS_REGION" \
  --auto-scaling-group-name "$ASG_NAME" --lifecycle-hook-name "$DRAIN_HOOK_NAME" \
  --instance-id "$(imds instance-id)" --lifecycle-action-result CONTINUE
