// Settings: version, data directory, health checks, governance.
import type { AppInfo, DoctorReport, Governance, GovernanceMode, StandingRuleInput } from "../bindings";
import { call } from "./core";

export const settingsApi = {
  appInfo: () => call<AppInfo>("app_info"),
  doctor: () => call<DoctorReport>("doctor"),
  governance: () => call<Governance>("governance"),
  setGovernanceMode: (mode: GovernanceMode) => call<Governance>("set_governance_mode", { mode }),
  setStandingRule: (rule: StandingRuleInput | null) => call<Governance>("set_standing_rule", { rule }),
};
