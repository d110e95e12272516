//! The chain example (`cargo run --example chain`), py_zipkin's demo → service1, reported to the
//! test receiver: one request is one trace — demo SERVER → do_stuff, demo CLIENT → service1
//! SERVER → do_stuff — with each span under its own service and no Zipkin spec violation.

mod shop_support;

use shop_support::{describe, names, Reported};
use traced_examples::chain;
use traced_tests::tree;

#[test]
fn one_request_is_one_trace_across_demo_and_service1() {
    let reported = Reported::start();
    let (status, body) = reported.block_on(async {
        let chain = chain::start_loopback().await.expect("the chain starts");
        let response = reqwest::get(format!("{}/", chain.demo_url()))
            .await
            .expect("demo answers");
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        chain.stop().await;
        (status, body)
    });
    let (_receiver, spans) = reported.finish();
    assert_eq!(status, 200);
    assert_eq!(body, "demo did its stuff; service1 did its stuff");

    let trace = tree::assert_single_tree(&spans);
    assert_eq!(trace.len(), 5, "{}", trace.render());
    let front = trace.root();
    assert_eq!(front.parent_id, None);
    assert_eq!(
        (
            front.name_or_empty(),
            front.kind.as_deref(),
            front.service()
        ),
        ("get /", Some("SERVER"), Some(chain::DEMO)),
        "{}",
        describe(front)
    );

    let children = trace.children_of(front);
    assert_eq!(
        names(children.iter().copied()),
        ["do_stuff", "get"],
        "{}",
        trace.render()
    );
    let (work, client) = (children[0], children[1]);
    assert_eq!(
        (work.kind.as_deref(), work.service()),
        (None, Some(chain::DEMO))
    );
    assert_eq!(work.tag("work_ms"), Some("20"));
    assert_eq!(
        (
            client.kind.as_deref(),
            client.service(),
            client.remote_service()
        ),
        (Some("CLIENT"), Some(chain::DEMO), Some(chain::SERVICE1)),
        "{}",
        describe(client)
    );
    // Local work first, then the call.
    assert!(work.end() <= client.timestamp, "{}", trace.render());

    let remote = trace.children_of(client);
    assert_eq!(
        names(remote.iter().copied()),
        ["get /api"],
        "{}",
        trace.render()
    );
    let service1 = remote[0];
    assert_eq!(
        (service1.kind.as_deref(), service1.service()),
        (Some("SERVER"), Some(chain::SERVICE1))
    );
    let inner = trace.children_of(service1);
    assert_eq!(
        names(inner.iter().copied()),
        ["do_stuff"],
        "{}",
        trace.render()
    );
    assert_eq!(inner[0].service(), Some(chain::SERVICE1));
    assert_eq!(inner[0].tag("work_ms"), Some("10"));
    assert!(
        spans.iter().all(|span| !span.is_error()),
        "{}",
        trace.render()
    );
}
