// The current run, kept outside the Run view: the view unmounts on navigation but the run goes on
// in the core, and its channel keeps writing here. Coming back to Run shows the live run (its
// output so far, its status, a pending escalation) and Cancel still reaches it.
//
// Every start or resume is an "attempt". Messages are applied only while their attempt is the
// current one and has not ended: after done/failed/cancelled/denied/blocked (or a consent
// request, which ends that run), and after the user cancels, a run's late messages are ignored,
// as are an older run's once a newer one started. A Cancel pressed before the run id is known is
// remembered and sent as soon as the id arrives.
import { runApi } from "./api/run";
import type { UiError } from "./api/core";
import type { PendingEscalation, Resolution, RunMessage, StartRun, TokenUsage } from "./bindings";

export type RunStatus = "idle" | "running" | "waiting_consent" | "done" | "failed" | "cancelled" | "denied" | "blocked";
/** How the consent modal closed: a decision, or a plain close (no decision). */
export type ConsentOutcome = "approved" | "denied" | "closed";

type Attempt = {
  /** The run stopped reporting (or the user cancelled it): ignore anything it still sends. */
  ended: boolean;
  /** Cancel was pressed before start/resume returned the run id. */
  cancelRequested: boolean;
};

class RunState {
  status = $state<RunStatus>("idle");
  runId = $state<string | null>(null);
  jobId = $state<string | null>(null);
  resolution = $state<Resolution | null>(null);
  output = $state("");
  usage = $state<TokenUsage | null>(null);
  maxTokens = $state<number | null>(null);
  latencyMs = $state<number | null>(null);
  firstTokenMs = $state<number | null>(null);
  error = $state<UiError | null>(null);
  escalation = $state<PendingEscalation | null>(null);
  /** The consent modal, when open; `locked` shows the LOCKED notice. */
  modal = $state<{ locked: boolean } | null>(null);

  #current: Attempt | null = null;
  #lockedMode = false;

  /** Forgets everything (a fresh app; tests). A run still going is no longer listened to. */
  reset() {
    if (this.#current) this.#current.ended = true;
    this.#current = null;
    this.status = "idle";
    this.runId = null;
    this.jobId = null;
    this.maxTokens = null;
    this.#clearResult();
  }

  #clearResult() {
    this.resolution = null;
    this.output = "";
    this.usage = null;
    this.latencyMs = null;
    this.firstTokenMs = null;
    this.error = null;
    this.escalation = null;
    this.modal = null;
  }

  #begin(): Attempt {
    if (this.#current) this.#current.ended = true;
    const attempt: Attempt = { ended: false, cancelRequested: false };
    this.#current = attempt;
    this.runId = null;
    this.status = "running";
    return attempt;
  }

  #live(attempt: Attempt): boolean {
    return attempt === this.#current && !attempt.ended;
  }

  #end(attempt: Attempt) {
    attempt.ended = true;
    this.runId = null;
  }

  #onMessage(attempt: Attempt, message: RunMessage) {
    if (!this.#live(attempt)) return;
    if (message.type === "failed") {
      this.#end(attempt);
      this.error = message.error;
      if (message.error.code === "cancelled") {
        this.status = "cancelled";
      } else if (message.deny_reason === "locked") {
        this.status = "blocked";
        // The escalation (if any) can no longer be decided: the modal only explains and closes.
        this.escalation = null;
        this.modal = { locked: true };
      } else {
        this.status = "failed";
      }
      return;
    }
    const event = message.event;
    switch (event.type) {
      case "resolved":
        this.resolution = event.resolution;
        break;
      case "needs_consent":
        // This run ends here; approval resumes the job in a new one.
        this.#end(attempt);
        this.escalation = event.escalation;
        this.jobId = event.escalation.binding.job_id || this.jobId;
        this.status = "waiting_consent";
        this.modal = { locked: this.#lockedMode };
        break;
      case "started":
        break;
      case "text":
        this.output += event.delta;
        break;
      case "usage":
        this.usage = event.usage;
        this.maxTokens = event.max_tokens;
        break;
      case "finished":
        this.#end(attempt);
        this.latencyMs = event.latency_ms;
        this.firstTokenMs = event.time_to_first_token_ms;
        this.status = "done";
        break;
    }
  }

  /** Waits for start/resume to return the run id; sends a Cancel pressed meanwhile. */
  async #launch(attempt: Attempt, launch: (onMessage: (m: RunMessage) => void) => Promise<{ run_id: string; job_id: string }>) {
    try {
      const started = await launch((m) => this.#onMessage(attempt, m));
      if (attempt.cancelRequested) {
        await this.#sendCancel(attempt, started.run_id);
        return;
      }
      if (attempt !== this.#current) return;
      this.jobId = started.job_id;
      // The run may already have ended (a fast answer, or a consent request).
      if (!attempt.ended) this.runId = started.run_id;
    } catch (e) {
      if (!this.#live(attempt)) return;
      this.#end(attempt);
      this.error = e as UiError;
      this.status = "failed";
    }
  }

  async #sendCancel(attempt: Attempt, runId: string) {
    try {
      await runApi.cancel(runId);
    } catch (e) {
      if (attempt !== this.#current) return;
      // The run may still be going in the core: say that stopping it failed.
      this.error = e as UiError;
      this.status = "failed";
    }
  }

  /** Starts a run; `lockedMode` is the governance mode the view knows (LOCKED or not). */
  async start(run: StartRun, lockedMode: boolean) {
    this.#lockedMode = lockedMode;
    const attempt = this.#begin();
    this.#clearResult();
    this.jobId = null;
    this.maxTokens = run.max_tokens;
    await this.#launch(attempt, (onMessage) => runApi.start(run, onMessage));
  }

  /** Stops the current run. Its later messages are ignored from now on. */
  async cancel() {
    const attempt = this.#current;
    if (!attempt || !this.#live(attempt) || this.status !== "running") return;
    const runId = this.runId;
    this.#end(attempt);
    this.status = "cancelled";
    if (runId) {
      await this.#sendCancel(attempt, runId);
    } else {
      // start/resume has not returned the run id yet: cancel as soon as it does.
      attempt.cancelRequested = true;
    }
  }

  /**
   * The consent modal closed: resume after an approval, otherwise the run stays stopped.
   * `locked`: it was closed while showing the LOCKED notice (nothing could be sent).
   */
  async decided(outcome: ConsentOutcome, locked = false) {
    this.modal = null;
    if (outcome === "approved" && this.jobId) {
      const jobId = this.jobId;
      const attempt = this.#begin();
      await this.#launch(attempt, (onMessage) => runApi.resume(jobId, onMessage));
    } else if (outcome === "denied") {
      this.status = "denied";
    } else if (this.status === "waiting_consent") {
      this.status = locked ? "blocked" : "denied";
    }
  }
}

/** The one current run of the app. */
export const runState = new RunState();
