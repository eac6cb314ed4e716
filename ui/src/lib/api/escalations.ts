// Cloud escalations: the modal and the operator console's pending list.
import type { ConsentReceipt, DecisionSurface, EscalationStatus, PendingEscalation } from "../bindings";
import { call } from "./core";

export const escalationsApi = {
  list: (status: EscalationStatus | null = null) =>
    call<PendingEscalation[]>("escalations", { status }),
  show: (escalationId: string) => call<PendingEscalation>("escalation", { escalationId }),
  decide: (escalationId: string, approve: boolean, surface: DecisionSurface) =>
    call<ConsentReceipt>("decide_escalation", { escalationId, approve, surface }),
};
