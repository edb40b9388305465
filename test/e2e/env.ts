// Point every client in the e2e suites at the local cluster unless told to use $KUBECONFIG.
import { KUBECONFIG_PATH } from "../../hack/cluster/cluster";

if (process.env.E2E_USE_KUBECONFIG !== "true") process.env.KUBECONFIG = KUBECONFIG_PATH;
