// Providers: the registry as the Providers view uses it. API keys are write-only: they are sent
// once (add, or replace) and no command ever returns one; rows say only whether a key is stored.
import type {
  ConnectionReport,
  LocalOllamaOffer,
  ProviderDraft,
  ProviderPreset,
  ProviderRow,
} from "../bindings";
import { call } from "./core";

export const providersApi = {
  presets: () => call<ProviderPreset[]>("provider_presets"),
  list: () => call<ProviderRow[]>("providers"),
  /** `apiKey` goes to the OS keychain; pass null for a keyless provider. */
  add: (draft: ProviderDraft, apiKey: string | null) => call<ProviderRow>("add_provider", { draft, apiKey }),
  update: (providerId: string, draft: ProviderDraft) => call<ProviderRow>("update_provider", { providerId, draft }),
  setKey: (providerId: string, apiKey: string) => call<ProviderRow>("set_provider_key", { providerId, apiKey }),
  deleteKey: (providerId: string) => call<ProviderRow>("delete_provider_key", { providerId }),
  remove: (providerId: string) => call<null>("remove_provider", { providerId }),
  test: (providerId: string) => call<ConnectionReport>("test_provider", { providerId }),
  /** On first start, the Ollama answering at 127.0.0.1:11434 (null when none, or providers exist). */
  ollamaOffer: () => call<LocalOllamaOffer | null>("local_ollama_offer"),
  acceptOllama: (defaultModel: string | null) => call<ProviderRow>("accept_local_ollama", { defaultModel }),
};
