// The Run view: what can be run, streamed runs (start, resume after consent) and cancel.
// Each run reports over a Channel: the core's RunEvents, then at most one `failed` message.
import { Channel } from "@tauri-apps/api/core";
import type { RunChoices, RunMessage, RunStarted, StartRun } from "../bindings";
import { call } from "./core";

export const runApi = {
  choices: () => call<RunChoices>("run_choices"),
  /** Starts a run; `onMessage` gets every message of it as it streams in. */
  start: (run: StartRun, onMessage: (m: RunMessage) => void) => {
    const channel = new Channel<RunMessage>();
    channel.onmessage = onMessage;
    return call<RunStarted>("start_run", { run, channel });
  },
  /** Sends the job's approved cloud escalation and streams the answer. */
  resume: (jobId: string, onMessage: (m: RunMessage) => void) => {
    const channel = new Channel<RunMessage>();
    channel.onmessage = onMessage;
    return call<RunStarted>("resume_run", { jobId, channel });
  },
  /** Stops a run; false when it had already ended. */
  cancel: (runId: string) => call<boolean>("cancel_run", { runId }),
};
