//! The sample catalog `mediamesh up --demo` loads: 40 programs (eight categories, five languages)
//! with six episodes each, written through the CMS's own write path (so they reach the index the
//! way editors' content does: outbox, indexer) and published.

use std::time::Duration;

use anyhow::Context;
use cms_core::{Actor, Cms, ListFilter, Store, Target};
use contracts::{ContentKind, CreateEpisode, CreateProgram, ListParams};

/// (category, program titles in en, fr, de, es, pt).
const PROGRAMS: &[(&str, [&str; 5])] = &[
    (
        "history",
        [
            "Stories from the Past",
            "Histoires d'autrefois",
            "Geschichten aus der Geschichte",
            "Historias del pasado",
            "Histórias do passado",
        ],
    ),
    (
        "science",
        [
            "The Curious Lab",
            "Le Labo curieux",
            "Das neugierige Labor",
            "El laboratorio curioso",
            "O laboratório curioso",
        ],
    ),
    ("comedy", ["Laugh Track", "Rire en boîte", "Lachen erlaubt", "Risas enlatadas", "Risos gravados"]),
    ("news", ["Morning Briefing", "Le Point du matin", "Die Morgenlage", "Informe matinal", "Resumo da manhã"]),
    (
        "technology",
        ["Silicon Stories", "Récits numériques", "Digitale Zeiten", "Historias digitales", "Histórias digitais"],
    ),
    (
        "true-crime",
        ["Cold Case Files", "Affaires non résolues", "Ungelöste Fälle", "Casos sin resolver", "Casos arquivados"],
    ),
    ("music", ["Sound Check", "Balance son", "Die Klangprobe", "Prueba de sonido", "Passagem de som"]),
    ("documentary", ["Wild Planet", "Planète sauvage", "Wilder Planet", "Planeta salvaje", "Planeta selvagem"]),
];

const LANGUAGES: [&str; 5] = ["en", "fr", "de", "es", "pt"];

/// Episode subjects per language, in the order of `LANGUAGES`.
const SUBJECTS: [[&str; 6]; 5] = [
    [
        "The lighthouse keeper",
        "A city under water",
        "The last expedition",
        "Voices of the harbour",
        "Night trains",
        "The forgotten archive",
    ],
    [
        "Le gardien du phare",
        "Une ville sous les eaux",
        "La dernière expédition",
        "Les voix du port",
        "Les trains de nuit",
        "Les archives oubliées",
    ],
    [
        "Der Leuchtturmwärter",
        "Eine Stadt unter Wasser",
        "Die letzte Expedition",
        "Stimmen des Hafens",
        "Nachtzüge",
        "Das vergessene Archiv",
    ],
    [
        "El guardián del faro",
        "Una ciudad bajo el agua",
        "La última expedición",
        "Voces del puerto",
        "Trenes nocturnos",
        "El archivo olvidado",
    ],
    [
        "O faroleiro",
        "Uma cidade debaixo de água",
        "A última expedição",
        "Vozes do porto",
        "Comboios noturnos",
        "O arquivo esquecido",
    ],
];

/// Writes the catalog if the CMS has no content yet; how many items it wrote. Waits for cms-core
/// (at `health_url`) to be up, so its migrations have run.
pub async fn load_when_ready(database_url: &str, health_url: &str) -> anyhow::Result<usize> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        match client.get(health_url).send().await {
            Ok(answer) if answer.status().is_success() => break,
            _ if tokio::time::Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
            _ => anyhow::bail!("cms-core did not come up at {health_url}"),
        }
    }
    load(database_url).await
}

/// Writes the catalog if the CMS has no content yet; how many items it wrote.
pub async fn load(database_url: &str) -> anyhow::Result<usize> {
    let store = Store::connect(database_url).await.with_context(|| format!("opening {database_url}"))?;
    let cms = Cms::new(store);
    let actor = Actor { user_id: "demo-loader".into(), role: auth::Role::Admin };
    if cms
        .list(
            &actor,
            &ListFilter { params: ListParams { per_page: 1, ..ListParams::default() }, ..ListFilter::default() },
        )
        .await?
        .total
        > 0
    {
        return Ok(0);
    }
    let mut written = 0;
    for (p, (category, titles)) in PROGRAMS.iter().enumerate() {
        for (l, language) in LANGUAGES.iter().enumerate() {
            let n = p * LANGUAGES.len() + l;
            let input: CreateProgram = serde_json::from_value(serde_json::json!({
                "title": titles[l],
                "description": format!("{} — {}.", titles[l], SUBJECTS[l].join(", ")),
                "category": category,
                "language": language,
                "publish_date": format!("202{}-{:02}-01T08:00:00Z", 1 + n % 5, 1 + n % 12),
                "artwork_url": format!("https://img.mediamesh.dev/demo/{category}-{language}.jpg"),
            }))?;
            let program = cms.create_program(&actor, input, None, None).await?;
            for (e, subject) in SUBJECTS[l].iter().enumerate() {
                let input: CreateEpisode = serde_json::from_value(serde_json::json!({
                    "title": format!("{subject} ({})", e + 1),
                    "description": format!("{} · {subject}.", titles[l]),
                    "duration_seconds": 600 + (n * 7919 + e * 104_729) % 3_000,
                    "publish_date": format!("202{}-{:02}-{:02}T08:00:00Z", 1 + (n + e) % 5, 1 + (n + e) % 12, 1 + e * 4),
                    "episode_number": e + 1,
                }))?;
                let episode = cms.create_episode(&actor, program.id, input, None, None).await?;
                cms.publish(&actor, Target::new(episode.id, ContentKind::Episode), None, None).await?;
                written += 1;
            }
            cms.publish(&actor, program.id, None, None).await?;
            written += 1;
        }
    }
    Ok(written)
}
