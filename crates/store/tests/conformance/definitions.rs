//! Templates and workflows.

use std::sync::Arc;

use reelflow_model::XmlElement;
use reelflow_model::template::{Template, TemplateCategory, TemplateTag};
use reelflow_model::workflow::{Workflow, WorkflowState};
use reelflow_store::*;

use crate::support::B;

fn template(id: &str, tag: TemplateTag, created: i64) -> Template {
    let mut params = XmlElement::new("TransTpl");
    params.push_leaf("Codec", "H.264");
    Template {
        id: id.into(),
        bucket: B.into(),
        name: format!("name-{id}"),
        tag,
        category: TemplateCategory::Custom,
        params,
        created,
        updated: created,
    }
}

fn workflow(id: &str, created: i64) -> Workflow {
    let mut topology = XmlElement::new("Topology");
    topology.push_leaf("Dependencies", "");
    Workflow {
        id: id.into(),
        bucket: B.into(),
        name: format!("wf-{id}"),
        state: WorkflowState::Active,
        topology_xml: topology,
        created,
        updated: created,
    }
}

pub async fn templates_are_saved_replaced_listed_and_deleted(store: Arc<dyn Store>) {
    let t2 = template("t2", TemplateTag::Snapshot, 2);
    let t1 = template("t1", TemplateTag::Transcode, 1);
    store.save_template(&t2).await.unwrap();
    store.save_template(&t1).await.unwrap();
    assert_eq!(store.get_template("t1").await.unwrap(), Some(t1.clone()));
    assert_eq!(store.get_template("t9").await.unwrap(), None);
    assert_eq!(
        store.list_templates(B, None).await.unwrap(),
        [t1.clone(), t2.clone()]
    );
    let snapshots = store
        .list_templates(B, Some(TemplateTag::Snapshot))
        .await
        .unwrap();
    assert_eq!(snapshots, std::slice::from_ref(&t2));
    let renamed = Template {
        name: "renamed".into(),
        updated: 5,
        ..t1.clone()
    };
    store.save_template(&renamed).await.unwrap();
    assert_eq!(store.get_template("t1").await.unwrap(), Some(renamed));
    assert!(store.list_templates("b-2", None).await.unwrap().is_empty());
    assert!(store.delete_template("t1").await.unwrap());
    assert!(!store.delete_template("t1").await.unwrap());
    assert_eq!(store.list_templates(B, None).await.unwrap(), [t2]);
}

pub async fn workflows_are_saved_replaced_listed_and_deleted(store: Arc<dyn Store>) {
    let (w1, w2) = (workflow("w1", 1), workflow("w2", 2));
    store.save_workflow(&w2).await.unwrap();
    store.save_workflow(&w1).await.unwrap();
    assert_eq!(store.get_workflow("w2").await.unwrap(), Some(w2.clone()));
    assert_eq!(
        store.list_workflows(B).await.unwrap(),
        [w1.clone(), w2.clone()]
    );
    let paused = Workflow {
        state: WorkflowState::Paused,
        ..w1.clone()
    };
    store.save_workflow(&paused).await.unwrap();
    assert_eq!(store.get_workflow("w1").await.unwrap(), Some(paused));
    assert!(store.delete_workflow("w1").await.unwrap());
    assert!(!store.delete_workflow("w1").await.unwrap());
    assert_eq!(store.get_workflow("w1").await.unwrap(), None);
    assert_eq!(store.list_workflows(B).await.unwrap(), [w2]);
}
