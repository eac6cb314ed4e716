// Work Profiles: the list with versions and usage, draft checks, create/import, save an edit as a
// new version, activate, export, and the model catalog for the editor's pickers.
import type {
  CatalogProvider,
  ModelTierView,
  ProfileActivated,
  ProfileCreated,
  ProfileSaved,
  ProfileVersionEntry,
  StoredProfile,
  WorkProfile,
} from "../bindings";
import { call } from "./core";

export const profilesApi = {
  list: () => call<ProfileVersionEntry[]>("profiles"),
  get: (profileId: string) => call<StoredProfile>("profile", { profileId }),
  /** Validates a draft without saving; rejects with field_errors at their paths. */
  check: (json: string, editing: string | null) => call<WorkProfile>("check_profile", { json, editing }),
  /** Creates or imports a profile from its JSON. */
  create: (json: string) => call<ProfileCreated>("create_profile", { json }),
  /** Saves an edit of `profileId` as a new version. */
  save: (profileId: string, json: string) => call<ProfileSaved>("save_profile", { profileId, json }),
  activate: (profileId: string) => call<ProfileActivated>("activate_profile", { profileId }),
  exportJson: (profileId: string) => call<string>("export_profile", { profileId }),
  catalog: () => call<CatalogProvider[]>("model_catalog"),
  /** Where a model id's bytes would go, as the core decides it. */
  modelTier: (modelId: string) => call<ModelTierView>("model_tier", { modelId }),
};
