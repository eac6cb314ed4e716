import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import type { ConnectionReport, LocalOllamaOffer, ProviderPreset, ProviderRow } from "../../lib/bindings";

const invoke = vi.fn();
vi.mock("@tauri-apps/api/core", () => ({ invoke: (...args: unknown[]) => invoke(...args) }));

import Providers from "../../views/Providers.svelte";

const OPTS = { max_tokens_field: "max_tokens", stream_include_usage: true } as const;
const PRESETS: ProviderPreset[] = [
  { preset_id: "openai", display_name: "OpenAI", kind: "openai_compat", tier: "cloud", base_url: "https://api.openai.com/v1", needs_key: true, openai: OPTS },
  { preset_id: "ollama", display_name: "Ollama", kind: "ollama", tier: "local", base_url: "http://localhost:11434", needs_key: false, openai: OPTS },
];

function row(id: string, extra: Partial<ProviderRow> = {}): ProviderRow {
  return { provider_id: id, display_name: id, kind: "openai_compat", tier: "cloud", base_url: "https://api.example.com/v1", default_model: null, api_key: "not_set", ...extra };
}

function report(id: string, models: string[]): ConnectionReport {
  return {
    provider_id: id, url: "http://127.0.0.1:11434/api/tags", status: 200, latency_ms: 7, total_ms: 9, authenticated: false,
    models: models.map((name) => ({ name, model_id: `${id}/${name}`, size_bytes: null })),
  };
}

type Handler = (args: Record<string, unknown> | undefined) => unknown;

/** A fake core: each command answers from `handlers`, or fails loudly. */
function backend(handlers: Record<string, Handler>) {
  invoke.mockImplementation(async (cmd: string, args?: Record<string, unknown>) => {
    const h = handlers[cmd] ?? (cmd === "provider_presets" ? () => PRESETS : undefined);
    if (!h) throw { code: "internal", message: `unexpected command ${cmd}` };
    return h(args);
  });
}

function calls(cmd: string) {
  return invoke.mock.calls.filter(([c]) => c === cmd).map(([, a]) => a as Record<string, unknown>);
}

describe("Providers view", () => {
  afterEach(cleanup);
  beforeEach(() => {
    invoke.mockReset();
  });

  it("shows the core's field error beside the input it names", async () => {
    backend({
      providers: () => [],
      local_ollama_offer: () => null,
      add_provider: (args) => {
        const draft = args?.draft as { provider_id: string };
        if (draft.provider_id === "openai") {
          throw { code: "duplicate_id", message: 'a provider with id "openai" already exists', field: "provider_id", field_errors: [] };
        }
        throw {
          code: "tier_mismatch", field: "tier", field_errors: [],
          message: "the base_url contradicts the tier: 127.0.0.1:9 is a private address and the provider is cloud tier",
        };
      },
    });
    render(Providers);
    await fireEvent.click(await screen.findByTestId("providers-add"));
    await waitFor(() => expect(screen.getByTestId("provider-form-preset").querySelectorAll("option").length).toBe(3));
    await fireEvent.change(screen.getByTestId("provider-form-preset"), { target: { value: "openai" } });
    expect((screen.getByTestId("provider-form-tier") as HTMLSelectElement).value).toBe("cloud");
    expect((screen.getByTestId("provider-form-base-url") as HTMLInputElement).value).toBe("https://api.openai.com/v1");

    await fireEvent.click(screen.getByTestId("provider-form-save"));
    const idError = await screen.findByTestId("provider-form-error-provider_id");
    expect(idError.textContent).toContain("already exists");
    expect(screen.getByTestId("provider-form-id").getAttribute("aria-invalid")).toBe("true");
    expect(screen.queryByTestId("provider-form-error-base_url")).toBeNull();

    await fireEvent.input(screen.getByTestId("provider-form-id"), { target: { value: "mycloud" } });
    await fireEvent.input(screen.getByTestId("provider-form-base-url"), { target: { value: "http://127.0.0.1:9/v1" } });
    await fireEvent.click(screen.getByTestId("provider-form-save"));
    const urlError = await screen.findByTestId("provider-form-error-base_url");
    expect(urlError.textContent).toContain("private address and the provider is cloud tier");
    expect(urlError.dataset.code).toBe("tier_mismatch");
    expect(screen.getByTestId("provider-form-base-url").getAttribute("aria-invalid")).toBe("true");
    expect(screen.getByTestId("provider-form-base-url").getAttribute("aria-describedby")).toBe(urlError.id);
    expect(screen.queryByTestId("provider-form-error-provider_id")).toBeNull();
    expect(calls("add_provider").at(-1)?.draft).toMatchObject({ provider_id: "mycloud", tier: "cloud", kind: "openai_compat", preset_id: "openai" });
  });

  it("fills the form from a kind preset without overwriting what the person typed", async () => {
    backend({ providers: () => [], local_ollama_offer: () => null });
    render(Providers);
    await fireEvent.click(await screen.findByTestId("providers-add"));
    await waitFor(() => expect(screen.getByTestId("provider-form-preset").querySelectorAll("option").length).toBe(3));
    const value = (id: string) => (screen.getByTestId(id) as HTMLInputElement).value;
    await fireEvent.change(screen.getByTestId("provider-form-preset"), { target: { value: "ollama" } });
    expect([value("provider-form-id"), value("provider-form-name"), value("provider-form-kind")]).toEqual(["ollama", "Ollama", "ollama"]);
    await fireEvent.change(screen.getByTestId("provider-form-preset"), { target: { value: "custom" } });
    expect([value("provider-form-id"), value("provider-form-name"), value("provider-form-kind")]).toEqual(["custom", "Custom server", "openai_compat"]);
    await fireEvent.input(screen.getByTestId("provider-form-id"), { target: { value: "mine" } });
    await fireEvent.change(screen.getByTestId("provider-form-preset"), { target: { value: "openai" } });
    expect([value("provider-form-id"), value("provider-form-name"), value("provider-form-tier")]).toEqual(["mine", "OpenAI", "cloud"]);
    expect(value("provider-form-base-url")).toBe("https://api.openai.com/v1");
  });

  it("never displays an API key: it sends it once and shows only stored or not stored", async () => {
    const KEY = "sk-very-secret-4242";
    let stored: ProviderRow = row("openai", { api_key: "stored" });
    backend({
      providers: () => [],
      local_ollama_offer: () => null,
      add_provider: () => stored,
      test_provider: () => report("openai", ["gpt-4o-mini"]),
      delete_provider_key: () => (stored = { ...stored, api_key: "not_set" }),
      set_provider_key: () => (stored = { ...stored, api_key: "stored" }),
    });
    render(Providers);
    await fireEvent.click(await screen.findByTestId("providers-add"));
    await waitFor(() => expect(screen.getByTestId("provider-form-preset").querySelectorAll("option").length).toBe(3));
    await fireEvent.change(screen.getByTestId("provider-form-preset"), { target: { value: "openai" } });
    expect(screen.getByTestId("provider-form-key-status").dataset.state).toBe("not_set");
    const keyInput = screen.getByTestId("provider-form-api-key") as HTMLInputElement;
    expect(keyInput.type).toBe("password");
    await fireEvent.input(keyInput, { target: { value: KEY } });
    await fireEvent.click(screen.getByTestId("provider-form-save"));

    const badge = await screen.findByTestId("provider-key-openai");
    expect(badge.dataset.state).toBe("stored");
    expect(badge.textContent).toBe("Key stored");
    expect(calls("add_provider")[0].apiKey).toBe(KEY);
    expect(document.body.innerHTML).not.toContain(KEY);

    // Editing shows the status only, never a value; replace and remove act on the keychain.
    await fireEvent.click(screen.getByTestId("provider-edit-openai"));
    expect(screen.getByTestId("provider-form-key-status").textContent).toBe("Stored in the OS keychain");
    expect(screen.queryByTestId("provider-form-api-key")).toBeNull();
    await fireEvent.click(screen.getByTestId("provider-form-key-remove"));
    await waitFor(() => expect(screen.getByTestId("provider-form-key-status").dataset.state).toBe("not_set"));
    expect(screen.getByTestId("provider-key-openai").dataset.state).toBe("not_set");
    await fireEvent.click(screen.getByTestId("provider-form-key-replace"));
    const fresh = screen.getByTestId("provider-form-api-key") as HTMLInputElement;
    expect(fresh.value).toBe("");
    await fireEvent.input(fresh, { target: { value: `${KEY}-2` } });
    await fireEvent.click(screen.getByTestId("provider-form-key-save"));
    await waitFor(() => expect(screen.getByTestId("provider-form-key-status").dataset.state).toBe("stored"));
    expect(calls("set_provider_key")[0]).toEqual({ providerId: "openai", apiKey: `${KEY}-2` });
    expect(screen.queryByTestId("provider-form-api-key")).toBeNull();
    expect(document.body.innerHTML).not.toContain(KEY);
  });

  it("shows failures that name no field, and keychain failures beside the key", async () => {
    const locked = { code: "keychain_locked", message: "the OS keychain is locked; unlock it and try again", field: null, field_errors: [] };
    backend({
      providers: () => [row("groq", { api_key: "stored" })],
      test_provider: () => report("groq", []),
      set_provider_key: () => {
        throw { ...locked, field: null };
      },
      add_provider: () => {
        throw locked;
      },
    });
    render(Providers);
    await fireEvent.click(await screen.findByTestId("provider-edit-groq"));
    await fireEvent.click(screen.getByTestId("provider-form-key-replace"));
    await fireEvent.input(screen.getByTestId("provider-form-api-key"), { target: { value: "sk-x" } });
    await fireEvent.click(screen.getByTestId("provider-form-key-save"));
    expect((await screen.findByTestId("provider-form-error-api_key")).textContent).toContain("keychain is locked");
    expect(screen.getByTestId("provider-form-key-status").dataset.state).toBe("stored");
    await fireEvent.click(screen.getByTestId("provider-form-cancel"));

    await fireEvent.click(screen.getByTestId("providers-add"));
    await fireEvent.click(screen.getByTestId("provider-form-save"));
    const general = await screen.findByTestId("provider-form-error");
    expect(general.textContent).toContain("keychain is locked");
    expect(general.dataset.code).toBe("keychain_locked");
  });

  it("says why the list could not load", async () => {
    backend({
      providers: () => {
        throw { code: "startup_failed", message: "database.db was written by a newer Handshake", field: null, field_errors: [] };
      },
    });
    render(Providers);
    const error = await screen.findByTestId("providers-error");
    expect(error.textContent).toContain("could not open its data directory");
    expect(error.textContent).toContain("newer Handshake");
    expect(screen.getByTestId("providers-title").textContent).toBe("Providers");
  });

  it("says why the offered Ollama could not be added", async () => {
    backend({
      providers: () => [],
      local_ollama_offer: () => ({ provider_id: "ollama", base_url: "http://127.0.0.1:11434/", latency_ms: 1, models: [] }),
      accept_local_ollama: () => {
        throw { code: "duplicate_id", message: 'a provider with id "ollama" already exists', field: "provider_id", field_errors: [] };
      },
    });
    render(Providers);
    expect((await screen.findByTestId("providers-ollama-offer")).textContent).toContain("ollama pull");
    await fireEvent.click(screen.getByTestId("providers-ollama-offer-add"));
    expect((await screen.findByTestId("providers-ollama-offer-error")).textContent).toContain("already exists");
    expect(calls("accept_local_ollama")).toEqual([{ defaultModel: null }]);
  });

  it("asks for confirmation before removing a provider", async () => {
    backend({
      providers: () => [row("groq", { api_key: "stored" })],
      test_provider: () => report("groq", ["llama"]),
      remove_provider: () => null,
      local_ollama_offer: () => null,
    });
    render(Providers);
    await fireEvent.click(await screen.findByTestId("provider-remove-groq"));
    const dialog = screen.getByTestId("provider-remove-dialog");
    expect(dialog.getAttribute("role")).toBe("dialog");
    expect(dialog.textContent).toContain("deletes its API key from the OS keychain");
    expect(document.activeElement).toBe(screen.getByTestId("provider-remove-dialog-cancel"));
    await fireEvent.click(screen.getByTestId("provider-remove-dialog-cancel"));
    expect(screen.queryByTestId("provider-remove-dialog")).toBeNull();
    await fireEvent.click(screen.getByTestId("provider-remove-groq"));
    await fireEvent.keyDown(screen.getByTestId("provider-remove-dialog"), { key: "Escape" });
    expect(screen.queryByTestId("provider-remove-dialog")).toBeNull();
    expect(calls("remove_provider")).toHaveLength(0);
    expect(screen.getByTestId("provider-row-groq")).toBeTruthy();

    await fireEvent.click(screen.getByTestId("provider-remove-groq"));
    await fireEvent.click(screen.getByTestId("provider-remove-dialog-confirm"));
    await screen.findByTestId("providers-empty");
    expect(calls("remove_provider")).toEqual([{ providerId: "groq" }]);
    expect(screen.queryByTestId("provider-remove-dialog")).toBeNull();
  });

  it("keeps the provider and shows why when removal fails", async () => {
    backend({
      providers: () => [row("groq")],
      test_provider: () => report("groq", []),
      remove_provider: () => {
        throw { code: "keychain_locked", message: "the OS keychain is locked; unlock it and try again", field: null, field_errors: [] };
      },
    });
    render(Providers);
    await fireEvent.click(await screen.findByTestId("provider-remove-groq"));
    await fireEvent.click(screen.getByTestId("provider-remove-dialog-confirm"));
    expect((await screen.findByTestId("provider-remove-error")).textContent).toContain("keychain is locked");
    expect(screen.getByTestId("provider-row-groq")).toBeTruthy();
  });

  it("on first start offers the local Ollama with its models, in one click", async () => {
    const offer: LocalOllamaOffer = {
      provider_id: "ollama", base_url: "http://127.0.0.1:11434/", latency_ms: 3,
      models: [
        { name: "gemma3:270m", model_id: "ollama/gemma3:270m", size_bytes: 291 },
        { name: "gemma3:270m-alt", model_id: "ollama/gemma3:270m-alt", size_bytes: null },
      ],
    };
    backend({
      providers: () => [],
      local_ollama_offer: () => offer,
      accept_local_ollama: () => row("ollama", { kind: "ollama", tier: "local", base_url: offer.base_url, default_model: "gemma3:270m" }),
      test_provider: () => report("ollama", ["gemma3:270m", "gemma3:270m-alt"]),
    });
    render(Providers);
    const empty = await screen.findByTestId("providers-empty");
    const offered = await screen.findByTestId("providers-ollama-offer");
    expect(empty.contains(offered)).toBe(true);
    expect(screen.getByTestId("providers-ollama-offer-models").textContent).toContain("gemma3:270m-alt");
    await fireEvent.click(screen.getByTestId("providers-ollama-offer-add"));
    expect(await screen.findByTestId("provider-row-ollama")).toBeTruthy();
    expect(calls("accept_local_ollama")).toEqual([{ defaultModel: "gemma3:270m" }]);
    expect(screen.getByTestId("provider-tier-ollama").textContent).toBe("local");
    expect((await screen.findByTestId("provider-models-ollama")).textContent).toContain("ollama/gemma3:270m-alt");
    expect(screen.queryByTestId("providers-empty")).toBeNull();
  });

  it("shows the empty state without an offer when no Ollama answers", async () => {
    backend({ providers: () => [], local_ollama_offer: () => null });
    render(Providers);
    expect((await screen.findByTestId("providers-empty")).textContent).toContain("Add provider");
    await waitFor(() => expect(calls("local_ollama_offer")).toHaveLength(1));
    await waitFor(() => expect(screen.queryByTestId("providers-ollama-detecting")).toBeNull());
    expect(screen.queryByTestId("providers-ollama-offer")).toBeNull();
  });

  it("probes every provider on open and shows latency or the failure", async () => {
    let answer: (r: ConnectionReport) => void = () => {};
    backend({
      providers: () => [row("local", { tier: "local" }), row("gone")],
      test_provider: (args) =>
        args?.providerId === "local"
          ? new Promise<ConnectionReport>((resolve) => (answer = resolve))
          : Promise.reject({ code: "call_failed", message: 'provider "gone": unreachable', field: null, field_errors: [] }),
    });
    render(Providers);
    const local = await screen.findByTestId("provider-health-local");
    expect(local.dataset.state).toBe("checking");
    expect(local.textContent).toContain("Checking");
    await waitFor(() => expect(screen.getByTestId("provider-health-gone").dataset.state).toBe("failed"));
    expect(screen.getByTestId("provider-health-gone").textContent).toContain("Unreachable");
    answer(report("local", ["a", "b"]));
    await waitFor(() => expect(screen.getByTestId("provider-health-local").dataset.state).toBe("ok"));
    expect(screen.getByTestId("provider-health-local").textContent).toContain("7 ms");
    expect(screen.getByTestId("provider-tier-gone").textContent).toBe("cloud");

    await fireEvent.click(screen.getByTestId("provider-test-gone"));
    expect((await screen.findByTestId("provider-test-error-gone")).textContent).toContain("unreachable");
  });

  it("an older probe's answer does not overwrite a newer one (e.g. after editing the base URL)", async () => {
    const answers: ((r: ConnectionReport | Promise<never>) => void)[] = [];
    let stored = row("local", { tier: "local", base_url: "http://127.0.0.1:1/v1" });
    backend({
      providers: () => [stored],
      test_provider: () => new Promise<ConnectionReport>((resolve) => answers.push(resolve)),
      update_provider: (args) => {
        const draft = args?.draft as { base_url: string };
        stored = { ...stored, base_url: draft.base_url };
        return stored;
      },
    });
    render(Providers);
    await waitFor(() => expect(answers).toHaveLength(1));
    // Fix the base URL while the first probe (of the old URL) is still out.
    await fireEvent.click(screen.getByTestId("provider-edit-local"));
    await fireEvent.input(screen.getByTestId("provider-form-base-url"), { target: { value: "http://127.0.0.1:11434/v1" } });
    await fireEvent.click(screen.getByTestId("provider-form-save"));
    await waitFor(() => expect(answers).toHaveLength(2));
    // The newer probe answers first: reachable.
    answers[1](report("local", ["a"]));
    await waitFor(() => expect(screen.getByTestId("provider-health-local").dataset.state).toBe("ok"));
    // The old URL's probe fails late; it must not replace the newer result.
    answers[0](Promise.reject({ code: "call_failed", message: "old url unreachable", field: null, field_errors: [] }));
    await new Promise((r) => setTimeout(r, 20));
    expect(screen.getByTestId("provider-health-local").dataset.state).toBe("ok");
    expect(screen.getByTestId("provider-health-local").textContent).not.toContain("Unreachable");
  });
});
