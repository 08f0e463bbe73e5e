//! The repository page: after each publish that changed something, `index.html` in the
//! repository root is rewritten from the published records (rendered by
//! [`rpmbucket_repodata::page`]), with a short `Cache-Control` like `repomd.xml`, so the same
//! page is served by the bucket (or CloudFront) and by `rpmbucket serve`.
//!
//! The page follows the metadata, never leads it: it is written after the `repomd.xml` swap
//! from what was published. Two publishers finishing together may leave the older page for a
//! moment; the next publish writes it again.

use bytes::Bytes;
use rpmbucket_repodata::page::{render_page, PageInfo, PAGE_FILE};
use rpmbucket_repodata::Package;

use crate::error::Result;
use crate::publish::{now_secs, retry, Indexer, CACHE_SHORT};
use crate::store::{PutMode, PutOptions};

impl Indexer {
    /// Render `root`'s page from its published generation and write it (when the repository's
    /// `page` setting is on; otherwise nothing is written). Repositories with more packages
    /// than the configured page limit get a page with the count and no list.
    pub async fn write_page(&self, root: &str) -> Result<()> {
        let snap = self.snapshot_opts(root, self.config().page_limit).await?;
        if !snap.exists || !snap.config.page {
            return Ok(());
        }
        let packages: Vec<&Package> = snap.state.packages.values().map(|e| &*e.package).collect();
        let info = PageInfo {
            revision: snap.revision.clone(),
            generated: now_secs(),
            total: Some(snap.package_count),
            ..PageInfo::new(&snap.root)
        };
        // A few milliseconds for thousands of rows: not worth a blocking task.
        let body = Bytes::from(render_page(&packages, &info));
        let key = format!("{}{PAGE_FILE}", snap.root);
        let opts = PutOptions {
            mode: PutMode::Overwrite,
            content_type: Some("text/html; charset=utf-8".into()),
            cache_control: Some(CACHE_SHORT.into()),
        };
        retry(self.options(), "put", || {
            self.store().put(&key, body.clone(), opts.clone())
        })
        .await?;
        Ok(())
    }
}
