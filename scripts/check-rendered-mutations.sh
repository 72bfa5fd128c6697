#!/usr/bin/env bash
# Put each of defects 1-5 back in a scratch worktree and run the rendered test: each must fail.
set -u
cd /work/main
rm -rf /var/tmp/mut /var/tmp/mut-*.log; git worktree prune; git worktree add -q /var/tmp/mut HEAD
run() {
  local name="$1"
  ( cd /var/tmp/mut && timeout 900 /work/main/.venv/bin/python -m pytest -x -q -p no:cacheprovider \
      tests/deploy/test_runs_as_rendered.py > /var/tmp/mut-$name.log 2>&1 )
  echo "$name: rc=$? $(grep -a -E '^E ' /var/tmp/mut-$name.log | head -2 | cut -c1-220 | tr '\n' ' ')"
  (cd /var/tmp/mut && git checkout -q -- . )
}
cd /var/tmp/mut
python3 - <<'P'
p='voxflow/queue/inference_worker.py'; s=open(p).read()
s=s.replace('''await self.topology.results_exchange.publish(
                    body, routing_key=broker.RESULT_ROUTING_KEY
                )''','''await self.channel.default_exchange.publish(
                    body, routing_key=broker.Names(self.settings.queue_prefix).results_queue
                )''')
open(p,'w').write(s)
P
git diff --stat | tail -1; run 1-default-exchange
sed -i 's/      create: true/      create: false/' deploy/temporal/values.yaml; git diff --stat | tail -1; run 2-temporal-namespace
python3 - <<'P'
p='deploy/terraform/iam.tf'; s=open(p).read()
s="\n".join(l for l in s.splitlines() if "to inspect buckets" not in l)+"\n"
open(p,'w').write(s)
P
git diff --stat | tail -1; run 3-iam-inspect-buckets
python3 - <<'P'
for p in ('voxflow/models.yaml','deploy/k8s/base/files/models.yaml'):
    s=open(p).read(); s=s[:s.index('  - name: joe-gpu')]; open(p,'w').write(s)
P
git diff --stat | tail -1; run 4-no-gpu-voice
sed -i 's/ | urlquery//g' deploy/k8s/base/secrets.yaml; git diff --stat | tail -1; run 5-password-encoding
