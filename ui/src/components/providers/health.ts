// The health of one provider as the list shows it: being probed, reachable (with what the
// connection test found) or failing (with the core's code and message).
import type { ConnectionReport } from "../../lib/bindings";

export type Health =
  | { state: "checking" }
  | { state: "ok"; report: ConnectionReport }
  | { state: "failed"; code: string; message: string };
