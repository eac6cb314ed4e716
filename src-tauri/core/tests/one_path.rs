//! Issue 14: where a model's bytes go is decided once, and every path agrees.
//!
//! - every (provider kind x provider tier x model-name spelling) through the CLI's path
//!   (`client_for`), the run path (`create_profile` + `run_job`), the profiles' catalog and the
//!   UI's data (`model_tier`) comes out the same: local, cloud, or refused;
//! - a cloud-tagged model on a local OpenAI-compatible provider escalates through the Run path and,
//!   after approval, exactly the approved bytes arrive once;
//! - a provider edited after the approval (base URL, headers) sends nothing and is recorded;
//! - the one client path builds a client once per model and rebuilds it after an edit;
//! - a run on a chosen profile leaves the active profile alone.
//!
//! Real SQLite, the real keychain (the Flight Recorder's anchor key: run inside a D-Bus session
//! with an unlocked gnome-keyring, as scripts/test.sh does) and real HTTP over loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use handshake_core::consent::{Approver, UiSurface};
use handshake_core::facade::{ClientError, ModelTierView, RunOutcome, RunRequest};
use handshake_core::llm::LlmError;
use handshake_core::profiles::{effective_tier, NoTier, Role};
use handshake_core::recorder::{DenyReason, EventQuery, EventType};
use handshake_core::registry::{HeaderInput, NewProvider, ProviderKind, ProviderUpdate};
use handshake_core::vocab::{ModelId, ProviderTier};
use handshake_core::Handshake;
use support::sse::{good_stream, serve_sse};
use support::{respond, LoopbackServer};

/// Where a model's bytes go, as every path must say it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Local,
    Cloud,
    Refused,
}

const NDJSON_ANSWER: &str = concat!(
    r#"{"model":"m","created_at":"2026-12-04T00:00:00Z","message":{"role":"assistant","content":"hi"},"done":false}"#,
    "\n",
    r#"{"model":"m","created_at":"2026-12-04T00:00:00Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":3,"eval_count":1}"#,
    "\n"
);

/// A loopback server speaking just enough of both protocols: Ollama's `/api/show` (counted) and
/// `/api/chat`, and OpenAI's `/v1/chat/completions` (SSE).
async fn model_server(shows: Arc<AtomicUsize>) -> LoopbackServer {
    LoopbackServer::start(move |req, _, mut sock| {
        let shows = shows.clone();
        async move {
            match req.path.as_str() {
                "/api/show" => {
                    shows.fetch_add(1, Ordering::SeqCst);
                    // A cloud model renamed on the daemon: no tag, but Ollama names its remote host.
                    let body: &[u8] = if req.json()["model"] == "notes:latest" {
                        br#"{"model_info":{},"remote_model":"gpt-oss:120b","remote_host":"https://ollama.com:443"}"#
                    } else if req.json()["model"] == "flaky:latest" {
                        // A daemon that answers but will not say what the model is.
                        respond(&mut sock, "500 Internal Server Error", "", "application/json", br#"{"error":"boom"}"#).await;
                        return;
                    } else {
                        br#"{"model_info":{"general.architecture":"gemma3","gemma3.context_length":2048}}"#
                    };
                    respond(&mut sock, "200 OK", "", "application/json", body).await;
                }
                "/api/chat" => {
                    respond(
                        &mut sock,
                        "200 OK",
                        "",
                        "application/x-ndjson",
                        NDJSON_ANSWER.as_bytes(),
                    )
                    .await;
                }
                "/v1/chat/completions" => serve_sse(sock, good_stream()).await,
                _ => respond(&mut sock, "404 Not Found", "", "text/plain", b"").await,
            }
        }
    })
    .await
}

/// The chat requests a server received (completions on either protocol).
fn chats(server: &LoopbackServer) -> Vec<serde_json::Value> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/chat" || r.path == "/v1/chat/completions")
        .map(|r| r.json())
        .collect()
}

async fn open() -> (tempfile::TempDir, Handshake) {
    let dir = tempfile::tempdir().unwrap();
    let hs = Handshake::open(Some(dir.path().to_path_buf()))
        .await
        .unwrap();
    (dir, hs)
}

/// A profile whose every role is `model_id`, with cloud escalation allowed (FULL_HUMAN).
fn profile_json(profile_id: &str, model_id: &str) -> String {
    let a = serde_json::json!({ "primary_model_id": model_id, "local_only": false });
    serde_json::json!({
        "schema_version": "hsk.work_profile@0.5",
        "profile_id": profile_id,
        "name": profile_id,
        "model_assignments": { "frontend": a, "orchestrator": a, "worker": a, "validator": a },
        "governance": {
            "automation_level": "FULL_HUMAN",
            "allow_cloud_escalation": true,
            "max_cloud_escalations_per_job": 5
        }
    })
    .to_string()
}

fn run_request(job_id: &str, prompt: &str) -> RunRequest {
    RunRequest {
        job_id: job_id.to_owned(),
        role: Role::Worker,
        file_type: None,
        task_type: None,
        prompt: prompt.to_owned(),
        max_tokens: Some(16),
        temperature: 0.0,
        stop_sequences: vec![],
    }
}

fn person() -> Approver {
    Approver {
        user_id: "tester".into(),
        ui_surface: UiSurface::CloudEscalationModal,
        notes: None,
    }
}

/// Runs `prompt` for the job's worker (a cloud model) and approves the escalation it opens.
async fn approved(
    hs: &Handshake,
    job: &str,
    prompt: &str,
) -> Box<handshake_core::consent::PendingEscalation> {
    let RunOutcome::NeedsConsent { escalation, .. } =
        hs.run_job(run_request(job, prompt)).await.unwrap()
    else {
        panic!("a cloud model needs consent");
    };
    hs.decide_escalation(&escalation.escalation_id, true, person())
        .await
        .unwrap();
    escalation
}

async fn denial_reasons(hs: &Handshake) -> Vec<String> {
    let query = EventQuery {
        event_type: Some(EventType::CloudDenied),
        ..EventQuery::default()
    };
    hs.events_query(&query)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.payload["reason"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The CLI's path (`hsk complete` calls `client_for`).
async fn cli_path(hs: &Handshake, id: &str) -> Verdict {
    match hs.client_for(id).await {
        Ok(client) => {
            assert_eq!(client.profile().tier, ProviderTier::Local, "{id}");
            Verdict::Local
        }
        Err(ClientError::Llm(LlmError::ConsentRequired { .. })) => Verdict::Cloud,
        Err(ClientError::InvalidModelId { .. }) => Verdict::Refused,
        Err(other) => panic!("{id}: unexpected {other:?}"),
    }
}

/// The Run view's path: a profile naming the model, a job on it, a run.
async fn run_path(hs: &Handshake, case: usize, id: &str) -> Verdict {
    let profile_id = format!("wp-case-{case}");
    if let Err(error) = hs.create_profile(&profile_json(&profile_id, id)).await {
        assert_eq!(error.code(), "invalid", "{id}: {error}");
        return Verdict::Refused;
    }
    let job = hs.start_job(Some(&profile_id)).await.unwrap().job_id;
    match hs.run_job(run_request(&job, "hello")).await.unwrap() {
        RunOutcome::Completed { resolution, .. } => {
            assert_eq!(resolution.chosen_tier, ProviderTier::Local, "{id}");
            Verdict::Local
        }
        RunOutcome::NeedsConsent { resolution, .. } => {
            assert_eq!(resolution.chosen_tier, ProviderTier::Cloud, "{id}");
            Verdict::Cloud
        }
    }
}

/// What profiles validate and resolve against.
async fn catalog_path(hs: &Handshake, id: &str) -> Verdict {
    let Ok(parsed) = ModelId::parse(id) else {
        return Verdict::Refused;
    };
    match effective_tier(&hs.catalog().await.unwrap(), &parsed) {
        Ok(ProviderTier::Local) => Verdict::Local,
        Ok(ProviderTier::Cloud) => Verdict::Cloud,
        Err(NoTier::Undecidable(_)) => Verdict::Refused,
        Err(NoTier::UnknownProvider) => panic!("{id}: provider unknown"),
    }
}

/// What the profile editor's pickers show (the `model_tier` command).
async fn ui_data(hs: &Handshake, id: &str) -> Verdict {
    match hs.model_tier(id).await.unwrap() {
        ModelTierView::Local => Verdict::Local,
        ModelTierView::Cloud => Verdict::Cloud,
        ModelTierView::Malformed { .. } => Verdict::Refused,
        other => panic!("{id}: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_path_agrees_on_every_kind_tier_and_spelling() {
    use Verdict::{Cloud, Local, Refused};
    let shows = Arc::new(AtomicUsize::new(0));
    let server = model_server(shows.clone()).await;
    let (_dir, hs) = open().await;
    let providers = [
        (
            "oll-local",
            ProviderKind::Ollama,
            ProviderTier::Local,
            server.url("").to_string(),
        ),
        (
            "oai-local",
            ProviderKind::OpenaiCompat,
            ProviderTier::Local,
            server.url("/v1").to_string(),
        ),
        // `.invalid` never resolves: nothing can be sent there, and nothing is tried.
        (
            "oll-cloud",
            ProviderKind::Ollama,
            ProviderTier::Cloud,
            "https://ollama.invalid".into(),
        ),
        (
            "oai-cloud",
            ProviderKind::OpenaiCompat,
            ProviderTier::Cloud,
            "https://api.invalid/v1".into(),
        ),
    ];
    for (id, kind, tier, url) in &providers {
        hs.registry()
            .add(NewProvider::new(*id, *kind, *tier, url.as_str()))
            .await
            .unwrap();
    }
    // (spelling, on a local provider, on a cloud provider)
    let spellings = [
        ("gemma3:270m", Local, Cloud),
        ("cloud-helper:7b", Local, Cloud),
        ("x:cloud-7b", Local, Cloud),
        ("x:cloud", Cloud, Cloud),
        ("X:CLOUD", Cloud, Cloud),
        ("x:120B-CLOUD", Cloud, Cloud),
        ("ns/x:cloud", Cloud, Cloud),
        ("registry.ollama.ai/library/x:cloud", Cloud, Cloud),
        ("x:cloud@sha256:00", Refused, Cloud),
        ("x:cloud:latest", Refused, Cloud),
        ("x:cloud/", Refused, Cloud),
        ("x:cloud ", Refused, Refused),
        ("x:clo\u{200b}ud", Refused, Refused),
    ];
    let mut case = 0;
    for (provider, _, tier, _) in &providers {
        for (spelling, on_local, on_cloud) in spellings {
            case += 1;
            let id = format!("{provider}/{spelling}");
            let expected = if *tier == ProviderTier::Local {
                on_local
            } else {
                on_cloud
            };
            let verdicts = [
                ("cli", cli_path(&hs, &id).await),
                ("run", run_path(&hs, case, &id).await),
                ("catalog", catalog_path(&hs, &id).await),
                ("ui", ui_data(&hs, &id).await),
            ];
            for (path, verdict) in verdicts {
                assert_eq!(verdict, expected, "{path} path, {id:?}");
            }
        }
    }
    // Only local models were sent, and only once each (by the run path).
    let sent: Vec<String> = chats(&server)
        .iter()
        .map(|c| c["model"].as_str().unwrap().to_owned())
        .collect();
    let mut expected_sent = Vec::new();
    for _ in ["oll-local", "oai-local"] {
        for (spelling, on_local, _) in spellings {
            if on_local == Local {
                expected_sent.push(spelling.to_owned());
            }
        }
    }
    let mut sorted = sent.clone();
    sorted.sort();
    expected_sent.sort();
    assert_eq!(sorted, expected_sent, "what reached the server: {sent:?}");
    // Not even `/api/show` went out for a cloud-tagged model.
    for request in server.requests() {
        if request.path == "/api/show" {
            let name = request.json()["model"].as_str().unwrap().to_owned();
            assert_eq!(
                handshake_core::vocab::effective_tier(ProviderTier::Local, &name),
                Ok(ProviderTier::Local),
                "/api/show asked about {name}"
            );
        }
    }
}

/// A provider `lo` (OpenAI-compatible, local) at `server`, and a job on a profile whose roles
/// are `lo/<model>`.
async fn cloud_tag_workspace(
    server: &LoopbackServer,
    model: &str,
) -> (tempfile::TempDir, Handshake, String) {
    let (dir, hs) = open().await;
    hs.registry()
        .add(NewProvider::new(
            "lo",
            ProviderKind::OpenaiCompat,
            ProviderTier::Local,
            server.url("/v1").as_str(),
        ))
        .await
        .unwrap();
    let created = hs
        .create_profile(&profile_json("wp-lo", &format!("lo/{model}")))
        .await
        .unwrap();
    let job = hs
        .start_job(Some(&created.profile_id))
        .await
        .unwrap()
        .job_id;
    (dir, hs, job)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloud_tag_on_a_local_openai_provider_escalates_and_sends_the_approved_bytes_once() {
    let server = model_server(Arc::default()).await;
    let (_dir, hs, job) = cloud_tag_workspace(&server, "gpt-oss:120b-cloud").await;
    let outcome = hs
        .run_job(run_request(
            &job,
            "my secret contract text, key sk-abcdefghijklmnopqrstuvwxyz0123",
        ))
        .await
        .unwrap();
    let RunOutcome::NeedsConsent { escalation, .. } = outcome else {
        panic!("a cloud-tagged model needs consent: {outcome:?}");
    };
    assert!(chats(&server).is_empty(), "nothing is sent before consent");
    let destination = &escalation.binding.destination;
    assert_eq!(destination.origin, format!("http://{}", server.addr));
    assert_eq!(destination.tier, ProviderTier::Cloud);
    assert_eq!(destination.provider_id, "lo");
    assert!(
        !escalation.preview.contains("sk-abcdef"),
        "the key is redacted"
    );

    hs.decide_escalation(&escalation.escalation_id, true, person())
        .await
        .unwrap();
    let (_, response) = hs.resume_job(&job).await.unwrap();
    assert_eq!(response.text, "Hello");
    let sent = chats(&server);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["model"], "gpt-oss:120b-cloud");
    assert_eq!(
        sent[0]["messages"][0]["content"],
        escalation.preview.as_str()
    );
    // One approval, one send.
    let again = hs.resume_job(&job).await.unwrap_err();
    assert_eq!(again.code(), "nothing_to_resume");
    assert_eq!(chats(&server).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_edited_after_approval_sends_nothing_and_says_why() {
    let server = model_server(Arc::default()).await;
    let elsewhere = model_server(Arc::default()).await;
    let edits = [
        ProviderUpdate {
            base_url: Some(elsewhere.url("/v1").to_string()),
            ..Default::default()
        },
        ProviderUpdate {
            extra_headers: Some(vec![HeaderInput::plain("x-route", "other")]),
            ..Default::default()
        },
        ProviderUpdate {
            kind: Some(ProviderKind::Ollama),
            base_url: Some(server.url("").to_string()),
            ..Default::default()
        },
    ];
    for edit in edits {
        let (_dir, hs, job) = cloud_tag_workspace(&server, "x:cloud").await;
        let escalation = approved(&hs, &job, "approved text").await;
        hs.registry().update("lo", edit).await.unwrap();
        let error = hs.resume_job(&job).await.unwrap_err();
        assert_eq!(error.code(), "escalation_denied", "{error}");
        let handshake_core::facade::FacadeError::Consent(consent) = &error else {
            panic!("{error:?}");
        };
        assert_eq!(consent.deny_reason(), Some(DenyReason::DestinationChanged));
        assert_eq!(denial_reasons(&hs).await, vec!["destination_changed"]);
        let shown = hs.escalation(&escalation.escalation_id).await.unwrap();
        assert_eq!(
            shown.status,
            handshake_core::consent::EscalationStatus::Blocked
        );
    }
    assert!(chats(&server).is_empty(), "{:?}", chats(&server));
    assert!(chats(&elsewhere).is_empty(), "{:?}", chats(&elsewhere));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_is_built_once_per_model_and_rebuilt_after_an_edit() {
    let shows = Arc::new(AtomicUsize::new(0));
    let server = model_server(shows.clone()).await;
    let (_dir, hs) = open().await;
    hs.registry()
        .add(NewProvider::new(
            "oll",
            ProviderKind::Ollama,
            ProviderTier::Local,
            server.url("").as_str(),
        ))
        .await
        .unwrap();
    let created = hs
        .create_profile(&profile_json("wp-oll", "oll/gemma3:270m"))
        .await
        .unwrap();
    let job = hs
        .start_job(Some(&created.profile_id))
        .await
        .unwrap()
        .job_id;
    for _ in 0..3 {
        hs.run_job(run_request(&job, "hello")).await.unwrap();
    }
    hs.client_for("oll/gemma3:270m").await.unwrap();
    assert_eq!(
        shows.load(Ordering::SeqCst),
        1,
        "/api/show once for four uses"
    );
    hs.registry()
        .update(
            "oll",
            ProviderUpdate {
                display_name: Some("Renamed".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    hs.run_job(run_request(&job, "hello")).await.unwrap();
    assert_eq!(shows.load(Ordering::SeqCst), 2, "rebuilt after the edit");
    assert_eq!(chats(&server).len(), 4);
    // A removed provider has no client any more.
    hs.registry().remove("oll").await.unwrap();
    let Err(gone) = hs.client_for("oll/gemma3:270m").await else {
        panic!("a removed provider still has a client");
    };
    assert_eq!(gone.code(), "not_found", "{gone}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_on_a_chosen_profile_leaves_the_active_one_alone() {
    let server = model_server(Arc::default()).await;
    let (_dir, hs) = open().await;
    hs.registry()
        .add(NewProvider::new(
            "oll",
            ProviderKind::Ollama,
            ProviderTier::Local,
            server.url("").as_str(),
        ))
        .await
        .unwrap();
    hs.create_profile(&profile_json("wp-a", "oll/gemma3:270m"))
        .await
        .unwrap();
    hs.create_profile(&profile_json("wp-b", "oll/gemma3:1b"))
        .await
        .unwrap();
    hs.activate_profile("wp-a").await.unwrap();
    let request = hs
        .prepare_run(handshake_core::facade::StartRun {
            profile_id: Some("wp-b".into()),
            job_id: None,
            role: Role::Worker,
            file_type: None,
            task_type: None,
            prompt: "hello".into(),
            max_tokens: Some(8),
            temperature: None,
            stop_sequences: None,
        })
        .await
        .unwrap();
    hs.run_job(request.clone()).await.unwrap();
    assert_eq!(
        hs.jobs().get(&request.job_id).await.unwrap().profile_id,
        "wp-b"
    );
    assert_eq!(
        hs.profiles().active_profile_id().await.unwrap().as_deref(),
        Some("wp-a"),
        "choosing a profile in Run does not activate it"
    );
    assert_eq!(chats(&server)[0]["model"], "gemma3:1b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloud_provider_turned_local_after_approval_is_refused_and_recorded() {
    let server = model_server(Arc::default()).await;
    let (_dir, hs) = open().await;
    hs.registry()
        .add(NewProvider::new(
            "open",
            ProviderKind::OpenaiCompat,
            ProviderTier::Cloud,
            "https://api.invalid/v1",
        ))
        .await
        .unwrap();
    let created = hs
        .create_profile(&profile_json("wp-open", "open/gpt-4o"))
        .await
        .unwrap();
    let job = hs
        .start_job(Some(&created.profile_id))
        .await
        .unwrap()
        .job_id;
    let RunOutcome::NeedsConsent { escalation, .. } = hs
        .run_job(run_request(&job, "for the cloud only"))
        .await
        .unwrap()
    else {
        panic!("a cloud provider needs consent");
    };
    assert_eq!(
        escalation.binding.destination.origin,
        "https://api.invalid:443"
    );
    hs.decide_escalation(&escalation.escalation_id, true, person())
        .await
        .unwrap();
    // The approved bytes must not go to a local server now standing under the same provider id.
    hs.registry()
        .update(
            "open",
            ProviderUpdate {
                tier: Some(ProviderTier::Local),
                base_url: Some(server.url("/v1").to_string()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let error = hs.resume_job(&job).await.unwrap_err();
    assert_eq!(error.code(), "escalation_denied", "{error}");
    assert_eq!(denial_reasons(&hs).await, vec!["destination_changed"]);
    assert!(chats(&server).is_empty(), "{:?}", chats(&server));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_the_daemon_forwards_to_a_remote_host_is_cloud_whatever_its_name() {
    let server = model_server(Arc::default()).await;
    let (_dir, hs) = open().await;
    hs.registry()
        .add(NewProvider::new(
            "oll",
            ProviderKind::Ollama,
            ProviderTier::Local,
            server.url("").as_str(),
        ))
        .await
        .unwrap();
    let Err(refused) = hs.client_for("oll/notes:latest").await else {
        panic!("a remote model was handed out as local");
    };
    assert_eq!(refused.code(), "consent_required", "{refused}");
    // The run path resolves by name (local), and the one client path refuses it before sending.
    let created = hs
        .create_profile(&profile_json("wp-notes", "oll/notes:latest"))
        .await
        .unwrap();
    let job = hs
        .start_job(Some(&created.profile_id))
        .await
        .unwrap()
        .job_id;
    let error = hs
        .run_job(run_request(&job, "private notes"))
        .await
        .unwrap_err();
    assert_eq!(error.code(), "consent_required", "{error}");
    assert!(chats(&server).is_empty(), "{:?}", chats(&server));
    // A daemon that answers /api/show with an error may be hiding a remote model: refused.
    let Err(closed) = hs.client_for("oll/flaky:latest").await else {
        panic!("a model the daemon would not describe was handed out");
    };
    assert_eq!(closed.code(), "provider_error", "{closed}");
    assert!(chats(&server).is_empty(), "{:?}", chats(&server));
    // A local model on the same daemon is served.
    hs.client_for("oll/gemma3:270m").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_imported_again_gets_a_new_revision() {
    let (_dir, hs) = open().await;
    hs.registry()
        .add(NewProvider::new(
            "oll",
            ProviderKind::Ollama,
            ProviderTier::Local,
            "http://127.0.0.1:9",
        ))
        .await
        .unwrap();
    let before = hs.registry().revision("oll").await.unwrap();
    let exported = hs.registry().export_json().await.unwrap();
    hs.registry().remove("oll").await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    hs.registry().import_json(&exported).await.unwrap();
    let after = hs.registry().revision("oll").await.unwrap();
    assert!(after > before, "{after} is not newer than {before}");
}

/// Issue 20, item 4: every resume that sends nothing writes FR-EVT-CLOUD-003 with its reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_resume_that_sends_nothing_is_on_record() {
    let server = model_server(Arc::default()).await;
    let (_dir, hs, job) = cloud_tag_workspace(&server, "x:cloud").await;
    let refused = |error: handshake_core::facade::FacadeError| {
        assert_eq!(error.code(), "nothing_to_resume", "{error}");
    };
    // 0. No such job: that is an error of its own, not a refusal.
    let unknown = hs.resume_job("job-unknown").await.unwrap_err();
    assert_eq!(unknown.code(), "job_not_found", "{unknown}");
    assert!(denial_reasons(&hs).await.is_empty());
    // 1. Nothing was ever escalated for the job.
    refused(hs.resume_job(&job).await.unwrap_err());
    assert_eq!(denial_reasons(&hs).await, ["no_receipt"]);
    // 2. Escalated, no decision yet.
    let escalate = |prompt: &'static str| {
        let hs = &hs;
        let job = &job;
        async move {
            match hs.run_job(run_request(job, prompt)).await.unwrap() {
                RunOutcome::NeedsConsent { escalation, .. } => escalation.escalation_id,
                other => panic!("{other:?}"),
            }
        }
    };
    let first = escalate("first").await;
    refused(hs.resume_job(&job).await.unwrap_err());
    assert_eq!(denial_reasons(&hs).await, ["no_receipt", "no_receipt"]);
    // It can still be approved: a refused resume does not block a pending plan.
    assert_eq!(
        hs.escalation(&first).await.unwrap().status,
        handshake_core::consent::EscalationStatus::Pending
    );
    // 3. Denied by a person (the denial itself is recorded too), then resumed.
    hs.decide_escalation(&first, false, person()).await.unwrap();
    refused(hs.resume_job(&job).await.unwrap_err());
    // 4. Approved and sent, then resumed again: a replay.
    let second = escalate("second").await;
    hs.decide_escalation(&second, true, person()).await.unwrap();
    hs.resume_job(&job).await.unwrap();
    refused(hs.resume_job(&job).await.unwrap_err());
    assert_eq!(
        denial_reasons(&hs).await,
        ["no_receipt", "no_receipt", "person", "person", "replay"]
    );
    // Every refusal with a plan names it.
    let query = EventQuery {
        event_type: Some(EventType::CloudDenied),
        ..EventQuery::default()
    };
    let plans: Vec<Option<String>> = hs
        .events_query(&query)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.payload["projection_plan_id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        plans,
        [
            None,
            Some(first.clone()),
            Some(first.clone()),
            Some(first),
            Some(second)
        ]
    );
    assert_eq!(chats(&server).len(), 1, "one approval, one send");
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Issue 20, item 1: a receipt is spent in the OS keychain, which every copy of a data directory
/// on this machine shares, so a copied (or restored) data directory cannot send it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_approval_sends_once_even_from_a_copy_of_the_data_directory() {
    let server = model_server(Arc::default()).await;
    let (dir, hs, job) = cloud_tag_workspace(&server, "x:cloud").await;
    approved(&hs, &job, "approved once").await;
    hs.shutdown().await.unwrap();
    let copy = tempfile::tempdir().unwrap();
    copy_dir(dir.path(), copy.path());

    let from_copy = Handshake::open(Some(copy.path().to_path_buf()))
        .await
        .unwrap();
    from_copy.resume_job(&job).await.unwrap();
    assert_eq!(chats(&server).len(), 1);

    let original = Handshake::open(Some(dir.path().to_path_buf()))
        .await
        .unwrap();
    let error = original.resume_job(&job).await.unwrap_err();
    let handshake_core::facade::FacadeError::Consent(consent) = &error else {
        panic!("{error:?}");
    };
    assert_eq!(consent.deny_reason(), Some(DenyReason::Replay), "{error}");
    assert_eq!(chats(&server).len(), 1, "two sends for one approval");
    assert_eq!(denial_reasons(&original).await, ["replay"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_removed_after_approval_is_a_recorded_refusal() {
    let server = model_server(Arc::default()).await;
    let (_dir, hs, job) = cloud_tag_workspace(&server, "x:cloud").await;
    let escalation = approved(&hs, &job, "approved text").await;
    hs.registry().remove("lo").await.unwrap();
    let error = hs.resume_job(&job).await.unwrap_err();
    assert_eq!(error.code(), "escalation_denied", "{error}");
    assert_eq!(denial_reasons(&hs).await, ["destination_changed"]);
    assert_eq!(
        hs.escalation(&escalation.escalation_id)
            .await
            .unwrap()
            .status,
        handshake_core::consent::EscalationStatus::Blocked
    );
    assert!(chats(&server).is_empty());
}
