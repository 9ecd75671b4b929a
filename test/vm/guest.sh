# shellcheck shell=sh
# PID 1 of the test VM after switch_root (busybox sh; test/vm/init starts it):
# runs the command run.sh sent under the host's bash, reports its exit status
# on the status port and powers off. PID 1 must never exit (the kernel would
# panic), so it waits for the command instead of exec'ing it.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
bash -c '. /run/vm/env; cd -- "$(< /run/vm/cwd)" && eval "$(< /run/vm/command)"' \
  < /dev/null > /run/vm/out 2> /run/vm/err
echo "rc=$?" > /run/vm/status
# Writes into the project directory go through 9p's cache: flush them.
sync
/run/vm/busybox poweroff -f
