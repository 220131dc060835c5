//! Job options the SDK demos send (api-reference-2.md §6), run for real: `Input.Url` fetched
//! from an HTTP server on 127.0.0.1 through the SSRF guard (and refused when loopback is not
//! allowed), size limits and failure messages, same-server COS URLs, inline watermarks and
//! `RemoveWatermark`, Concat of fragments only, MediaInfo without Operation, `CallBack=no`.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use reelflow_engine::{FetchConfig, JobError, fetch_to};
use reelflow_model::XmlElement;
use reelflow_model::execution::{RunState, Task};
use reelflow_model::job::parse_jobs;
use reelflow_netguard::AddressPolicy;
use reelflow_objects::BlobStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

/// A small HTTP/1.1 origin on 127.0.0.1 serving one clip under scripted paths, recording the
/// paths it was asked for.
struct Origin {
    addr: SocketAddr,
    hits: Arc<Mutex<Vec<String>>>,
}

impl Origin {
    async fn start(clip: PathBuf) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(Mutex::new(Vec::new()));
        let seen = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let (clip, seen) = (clip.clone(), seen.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
                        match conn.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&head).into_owned();
                    let path = text.split(' ').nth(1).unwrap_or("/").to_owned();
                    seen.lock().unwrap().push(path.clone());
                    let _ = respond(&mut conn, &path, &clip).await;
                });
            }
        });
        Self { addr, hits }
    }

    fn url(&self, host: &str, path: &str) -> String {
        format!("http://{host}:{}{path}", self.addr.port())
    }

    fn hits(&self) -> Vec<String> {
        self.hits.lock().unwrap().clone()
    }
}

async fn respond(conn: &mut tokio::net::TcpStream, path: &str, clip: &Path) -> std::io::Result<()> {
    let route = path.split('?').next().unwrap_or("");
    let body = tokio::fs::read(clip).await?;
    let head = |status: &str, extra: &str| {
        format!("HTTP/1.1 {status}\r\nConnection: close\r\n{extra}\r\n")
    };
    match route {
        "/clip.mp4" => {
            let h = head("200 OK", &format!("Content-Length: {}\r\n", body.len()));
            conn.write_all(h.as_bytes()).await?;
            for piece in body.chunks(64 * 1024) {
                conn.write_all(piece).await?;
            }
        }
        "/chunked.mp4" | "/slow.mp4" => {
            conn.write_all(head("200 OK", "Transfer-Encoding: chunked\r\n").as_bytes())
                .await?;
            for piece in body.chunks(16 * 1024) {
                conn.write_all(format!("{:x}\r\n", piece.len()).as_bytes())
                    .await?;
                conn.write_all(piece).await?;
                conn.write_all(b"\r\n").await?;
                if route == "/slow.mp4" {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
            }
            conn.write_all(b"0\r\n\r\n").await?;
        }
        "/hop" => {
            conn.write_all(
                head("302 Found", "Location: /clip.mp4\r\nContent-Length: 0\r\n").as_bytes(),
            )
            .await?;
        }
        "/to-private" => {
            let to = "Location: http://10.255.255.1/clip.mp4\r\nContent-Length: 0\r\n";
            conn.write_all(head("302 Found", to).as_bytes()).await?;
        }
        "/empty" => {
            conn.write_all(head("200 OK", "Content-Length: 0\r\n").as_bytes())
                .await?
        }
        _ => {
            conn.write_all(head("404 Not Found", "Content-Length: 0\r\n").as_bytes())
                .await?
        }
    }
    conn.flush().await
}

fn loopback() -> FetchConfig {
    FetchConfig {
        policy: AddressPolicy::parse("127.0.0.0/8").unwrap(),
        ..FetchConfig::default()
    }
}

fn jobs(body: &str) -> Vec<reelflow_model::job::JobRequest> {
    parse_jobs(&XmlElement::parse(body.as_bytes()).unwrap()).unwrap()
}

const SMALL: &str = "<Transcode><Container><Format>mp4</Format></Container><Video><Codec>H.264</Codec><Width>160</Width><Preset>veryfast</Preset></Video></Transcode>";

impl Harness {
    /// Submits one job and waits for its task to end.
    async fn run_job(&self, body: &str) -> Task {
        let created = self.engine.submit_jobs(BUCKET, jobs(body)).await.unwrap();
        let (_, mut tasks) = self.wait_run(&created[0].1.run_id).await;
        tasks.remove(0)
    }

    async fn output(&self, task: &Task) -> PathBuf {
        let key = &task.outputs.first().expect("an output").key;
        let record = self.store.get_object(BUCKET, key).await.unwrap().unwrap();
        self.blobs.local_path(&record.blob_id).unwrap()
    }
}

fn duration(path: &Path) -> f64 {
    probe(path)["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

fn width(path: &Path) -> u64 {
    probe(path)["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["codec_type"] == "video")
        .unwrap()["width"]
        .as_u64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_inputs_are_fetched_through_the_guard() {
    let h = harness_fetching(true, loopback()).await;
    let origin = Origin::start(h.clip(2)).await;

    let url = origin.url("127.0.0.1", "/clip.mp4");
    let info = h
        .run_job(&format!(
            "<Request><Tag>MediaInfo</Tag><Input><Url>{url}</Url></Input></Request>"
        ))
        .await;
    assert_eq!(info.code, "Success", "{}", info.message);
    assert!(
        info.result.contains("<MediaInfo>") && info.result.contains("<Duration>"),
        "{}",
        info.result
    );
    assert_eq!(info.input_key, "clip.mp4");

    // A host name, a redirect (re-checked, allowed) and a signed query.
    let hop = origin.url("localhost", "/hop?sign=secret");
    let task = h
        .run_job(&format!(
            "<Request><Tag>Transcode</Tag><Input><Url>{hop}</Url></Input><Operation>{SMALL}{}</Operation></Request>",
            out("url/out.mp4")
        ))
        .await;
    assert_eq!(task.code, "Success", "{}", task.message);
    assert_eq!(width(&h.output(&task).await), 160);
    assert_eq!(
        origin.hits(),
        ["/clip.mp4", "/hop?sign=secret", "/clip.mp4"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_addresses_are_refused_unless_allowed() {
    let h = harness().await; // public addresses only
    let origin = Origin::start(h.clip(1)).await;
    let body = |url: &str| {
        format!("<Request><Tag>MediaInfo</Tag><Input><Url>{url}</Url></Input></Request>")
    };

    // An IP literal is refused at submission.
    let literal = origin.url("127.0.0.1", "/clip.mp4?sign=secret");
    let Err(JobError::InputUrl(e)) = h.engine.submit_jobs(BUCKET, jobs(&body(&literal))).await
    else {
        panic!("a loopback literal must be refused at submission");
    };
    let msg = e.to_string();
    assert!(
        msg.contains("non-public") && msg.contains("REELFLOW_FETCH_ALLOW_CIDRS"),
        "{msg}"
    );
    assert!(
        msg.contains("/clip.mp4?…") && !msg.contains("secret"),
        "{msg}"
    );

    // A name is refused after DNS, when the task runs: nothing reaches the origin.
    let task = h
        .run_job(&body(&origin.url("localhost", "/clip.mp4")))
        .await;
    assert_eq!(task.code, "ResourceAccessDenied", "{}", task.message);
    assert!(
        task.message.contains(&origin.url("localhost", "/clip.mp4")),
        "{}",
        task.message
    );
    assert!(task.message.contains("non-public"), "{}", task.message);
    assert!(!task.message.contains(&task.job_id), "{}", task.message);
    assert!(origin.hits().is_empty(), "{:?}", origin.hits());

    // Allowed loopback, but a redirect to another private network is refused.
    let h = harness_fetching(true, loopback()).await;
    let task = h
        .run_job(&body(&origin.url("127.0.0.1", "/to-private")))
        .await;
    assert_eq!(task.code, "ResourceAccessDenied", "{}", task.message);
    assert!(task.message.contains("10.255.255.1"), "{}", task.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_are_streamed_size_limited_and_name_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("clip.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=25",
        "-t",
        "2",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        clip.to_str().unwrap(),
    ]);
    let size = std::fs::metadata(&clip).unwrap().len();
    let origin = Origin::start(clip).await;
    let dest = dir.path().join("in.mp4");
    let never = CancellationToken::new();
    let get = |config: FetchConfig, path: &'static str| {
        let (url, dest, never) = (origin.url("127.0.0.1", path), dest.clone(), never.clone());
        async move { fetch_to(&config, &url, &dest, &never).await }
    };

    assert_eq!(get(loopback(), "/chunked.mp4").await.unwrap(), size);
    assert_eq!(std::fs::metadata(&dest).unwrap().len(), size);

    let tiny = FetchConfig {
        max_size: 10_000,
        ..loopback()
    };
    for path in ["/clip.mp4", "/chunked.mp4"] {
        let e = get(tiny.clone(), path).await.unwrap_err();
        assert_eq!(e.code(), "EntityTooLarge", "{path}: {e}");
        assert!(e.to_string().contains(path), "{e}");
        assert!(!dest.exists(), "a refused download leaves no file");
    }
    let e = get(loopback(), "/missing.mp4").await.unwrap_err();
    assert_eq!(e.code(), "ResourceNotFound");
    assert_eq!(
        e.to_string(),
        format!(
            "input URL {} answered HTTP 404",
            origin.url("127.0.0.1", "/missing.mp4")
        )
    );
    assert_eq!(
        get(loopback(), "/empty").await.unwrap_err().code(),
        "InvalidInput"
    );

    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.cancel();
    });
    let started = std::time::Instant::now();
    let e = fetch_to(
        &loopback(),
        &origin.url("127.0.0.1", "/slow.mp4"),
        &dest,
        &cancel,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), "Cancelled");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cos_urls_of_this_server_read_the_bucket() {
    let h = harness().await; // public only: a fetch over HTTP could not reach anything
    h.upload("src/a.mp4", &h.clip(1)).await;
    let url = format!("http://{BUCKET}.cos.ap-guangzhou.myqcloud.com/src/a.mp4");
    let task = h
        .run_job(&format!(
            "<Request><Tag>MediaInfo</Tag><Input><Url>{url}</Url></Input></Request>"
        ))
        .await;
    assert_eq!(task.code, "Success", "{}", task.message);
    let missing = format!("http://{BUCKET}.cos.ap-guangzhou.myqcloud.com/src/none.mp4");
    let refused = h
        .engine
        .submit_jobs(
            BUCKET,
            jobs(&format!(
                "<Request><Tag>MediaInfo</Tag><Input><Url>{missing}</Url></Input></Request>"
            )),
        )
        .await;
    assert!(matches!(refused, Err(JobError::NoSuchKey(k)) if k == "src/none.mp4"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_watermarks_and_remove_watermark() {
    let h = harness().await;
    h.upload("src/a.mp4", &h.clip(2)).await;
    let logo = h.dir.path().join("logo.png");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=c=red:size=32x32",
        "-frames:v",
        "1",
        logo.to_str().unwrap(),
    ]);
    h.upload("watermark.png", &logo).await;
    let image = format!(
        "<Watermark><Type>Image</Type><Pos>TopLeft</Pos><LocMode>Absolute</LocMode><Dx>10</Dx><Dy>10</Dy><Image><Url>http://{BUCKET}.cos.r.myqcloud.com/watermark.png</Url><Mode>Fixed</Mode><Width>32</Width><Height>32</Height><Transparency>100</Transparency></Image></Watermark>"
    );
    let text = "<Watermark><Type>Text</Type><Pos>BottomRight</Pos><Dx>8</Dx><Dy>8</Dy><Text><Text>reelflow</Text><FontSize>20</FontSize><FontColor>0xFFEEFF</FontColor><Transparency>80</Transparency></Text></Watermark>";
    let remove = "<RemoveWatermark><Dx>300</Dx><Dy>200</Dy><Width>64</Width><Height>64</Height></RemoveWatermark>";
    let task = h
        .run_job(&format!(
            "<Request><Tag>Transcode</Tag><Input><Object>src/a.mp4</Object></Input><Operation><Transcode><Container><Format>mp4</Format></Container><Video><Codec>H.264</Codec><Preset>veryfast</Preset></Video></Transcode>{text}{image}{remove}<FreeTranscode>true</FreeTranscode><JobLevel>1</JobLevel>{}</Operation></Request>",
            out("wm/out.mp4")
        ))
        .await;
    assert_eq!(task.code, "Success", "{}", task.message);
    assert_eq!(width(&h.output(&task).await), 320);

    // A WatermarkTemplateId wins: the inline watermark naming a missing image is not used.
    let tpl = h.template("<Request><Tag>Watermark</Tag><Name>w</Name><Watermark><Type>Text</Type><Text><Text>t</Text><FontSize>20</FontSize></Text></Watermark></Request>").await;
    let missing = image.replace("watermark.png", "missing.png");
    let task = h
        .run_job(&format!(
            "<Request><Tag>Transcode</Tag><Input><Object>src/a.mp4</Object></Input><Operation>{SMALL}<WatermarkTemplateId>{tpl}</WatermarkTemplateId>{missing}{}</Operation></Request>",
            out("wm/tpl.mp4")
        ))
        .await;
    assert_eq!(task.code, "Success", "{}", task.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concat_jobs_of_fragments_only() {
    let h = harness().await;
    h.upload("frag/1.mp4", &h.clip(1)).await;
    h.upload("frag/2.mp4", &h.clip(2)).await;
    let frag = |key: &str, index: u32| {
        format!(
            "<ConcatFragment><Url>http://demo-1xxxxxxxxx.cos.ap-chongqing.myqcloud.com/{key}</Url><FragmentIndex>{index}</FragmentIndex></ConcatFragment>"
        )
    };
    let task = h
        .run_job(&format!(
            "<Request><Tag>Concat</Tag><Operation><ConcatTemplate>{}{}<Audio><Codec>mp3</Codec></Audio><Video><Codec>H.264</Codec><Width>160</Width></Video><Container><Format>mp4</Format></Container><DirectConcat>false</DirectConcat></ConcatTemplate>{}</Operation></Request>",
            frag("frag/2.mp4", 1),
            frag("frag/1.mp4", 0),
            out("concat/result.mp4")
        ))
        .await;
    assert_eq!(task.code, "Success", "{}", task.message);
    let joined = h.output(&task).await;
    assert!(
        (duration(&joined) - 3.0).abs() < 0.3,
        "{}",
        duration(&joined)
    );
    assert_eq!(width(&joined), 160);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_info_without_operation_and_callback_off() {
    let h = harness().await;
    h.upload("src/a.mp4", &h.clip(1)).await;
    let mut queue = h.store.default_queue(BUCKET, 2, 1).await.unwrap();
    queue.notify = XmlElement::new("NotifyConfig")
        .with_leaf("Url", "http://queue.example.com/cb")
        .with_leaf("Type", "Url")
        .with_leaf("Event", "TaskFinish")
        .with_leaf("State", "On");
    h.store.save_queue(&queue).await.unwrap();
    for (callback, expected) in [("", 1), ("<CallBack>no</CallBack>", 0)] {
        let body = format!(
            "<Request><Tag>MediaInfo</Tag><Input><Object>src/a.mp4</Object></Input>{callback}</Request>"
        );
        let created = h.engine.submit_jobs(BUCKET, jobs(&body)).await.unwrap();
        let (instance, tasks) = h.wait_run(&created[0].1.run_id).await;
        assert_eq!(instance.state, RunState::Success, "{tasks:?}");
        assert!(tasks[0].result.contains("<MediaInfo>"));
        let sent = h.store.callbacks_for_run(&instance.run_id).await.unwrap();
        assert_eq!(sent.len(), expected, "{callback:?}: {sent:?}");
        assert!(sent.iter().all(|c| c.url == "http://queue.example.com/cb"));
    }
}
