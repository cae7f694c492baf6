"""Ray's own KubeRay autoscaler (`ray kuberay-autoscaler ...`, as KubeRay's sidecar runs it), on this machine.

The only difference from the sidecar: where the in-cluster credentials are. Ray's KubeRay node provider reads the
ServiceAccount token from a hard-coded path (/var/run/secrets/kubernetes.io/serviceaccount/token) that a kubelet
mounts into the head pod; here the token is a file the test wrote (a TokenRequest for the head pod's ServiceAccount,
bound to the head pod). This wrapper points that one constant (and the CA's) at the files named by
SENTINEL_SA_TOKEN_FILE and SENTINEL_SA_CA_FILE, then hands the command line to Ray's CLI unchanged. The scaling logic
(ray.autoscaler._private.kuberay, ray.autoscaler._private.monitor / autoscaler v2) is Ray's, unmodified.

Usage: python kuberay_autoscaler_local.py kuberay-autoscaler --cluster-name N --cluster-namespace NS [--gcs-address A]
"""

from __future__ import annotations

import os
import sys

from ray.autoscaler._private.kuberay import node_provider


def main() -> None:
    token_file = os.environ["SENTINEL_SA_TOKEN_FILE"]
    ca_file = os.environ["SENTINEL_SA_CA_FILE"]
    for path in (token_file, ca_file):
        if not os.path.isfile(path):
            raise SystemExit(f"kuberay_autoscaler_local: {path} is not a file")
    node_provider.IN_CLUSTER_TOKEN_PATH = token_file
    node_provider.IN_CLUSTER_CA_CERT_PATH = ca_file
    if sys.argv[1:2] != ["kuberay-autoscaler"]:
        raise SystemExit("kuberay_autoscaler_local: expected `kuberay-autoscaler ...` (the sidecar's command)")

    from ray.scripts.scripts import main as ray_cli

    sys.argv = ["ray", *sys.argv[1:]]
    ray_cli()  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    main()
