//! Where a pipeline comes from: a file (a layer, a laptop) or an S3 object (what the Terraform
//! module deploys), and the `s3://bucket/key` URIs that name objects.

use std::path::PathBuf;

/// The value of `SLUICEGATE_PIPELINE` or `--pipeline`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PipelineSource {
    /// A pipeline file on disk; its relative module paths resolve against its folder.
    File(PathBuf),
    /// A pipeline object in S3.
    S3(S3Uri),
}

impl PipelineSource {
    /// Reads `text` as an `s3://` URI or, without a scheme, a path.
    pub fn parse(text: &str) -> Result<PipelineSource, String> {
        if text.contains("://") {
            return S3Uri::parse(text).map(PipelineSource::S3);
        }
        Ok(PipelineSource::File(PathBuf::from(text)))
    }
}

impl std::fmt::Display for PipelineSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PipelineSource::File(path) => write!(f, "{}", path.display()),
            PipelineSource::S3(uri) => write!(f, "{uri}"),
        }
    }
}

/// An S3 object or prefix: `s3://bucket/key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Uri {
    /// The bucket.
    pub bucket: String,
    /// The key (or prefix), without a leading `/`.
    pub key: String,
}

impl S3Uri {
    /// Parses `s3://bucket/key`; the key may be empty only for a prefix (see [`S3Uri::parse_prefix`]).
    pub fn parse(text: &str) -> Result<S3Uri, String> {
        let uri = S3Uri::parse_prefix(text)?;
        if uri.key.is_empty() || uri.key.ends_with('/') {
            return Err(format!("{text:?} names no object: expected s3://BUCKET/KEY"));
        }
        Ok(uri)
    }

    /// Parses `s3://bucket` or `s3://bucket/prefix` (a trailing `/` is dropped).
    pub fn parse_prefix(text: &str) -> Result<S3Uri, String> {
        let Some(rest) = text.strip_prefix("s3://") else {
            return Err(format!("{text:?} is not an s3:// URI (a path has no scheme)"));
        };
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        // S3's bucket rules, loosely: enough to refuse a typo before the first request.
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket.bytes().all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || matches!(byte, b'-' | b'.'));
        if !bucket_ok {
            return Err(format!("{text:?}: {bucket:?} is not an S3 bucket name"));
        }
        Ok(S3Uri { bucket: bucket.to_owned(), key: key.to_owned() })
    }

    /// The object `relative` names next to this one (`relative` is a key relative to this key's folder).
    pub fn sibling(&self, relative: &str) -> S3Uri {
        let folder = self.key.rsplit_once('/').map_or("", |(folder, _)| folder);
        let key = if folder.is_empty() { relative.to_owned() } else { format!("{folder}/{relative}") };
        S3Uri { bucket: self.bucket.clone(), key }
    }

    /// The object `name` below this prefix.
    pub fn join(&self, name: &str) -> S3Uri {
        let prefix = self.key.trim_end_matches('/');
        let key = if prefix.is_empty() { name.to_owned() } else { format!("{prefix}/{name}") };
        S3Uri { bucket: self.bucket.clone(), key }
    }
}

impl std::fmt::Display for S3Uri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_and_uris() {
        assert_eq!(PipelineSource::parse("/opt/p.json"), Ok(PipelineSource::File("/opt/p.json".into())));
        let uri = S3Uri::parse("s3://logs-archive/sluicegate/pipelines/abc.json").unwrap();
        assert_eq!(uri.bucket, "logs-archive");
        assert_eq!(uri.key, "sluicegate/pipelines/abc.json");
        assert_eq!(uri.sibling("m.wasm").to_string(), "s3://logs-archive/sluicegate/pipelines/m.wasm");
        assert_eq!(S3Uri::parse("s3://bkt/p.json").unwrap().sibling("m.wasm").to_string(), "s3://bkt/m.wasm");
        assert_eq!(S3Uri::parse_prefix("s3://bkt/a/b/").unwrap().join("c").to_string(), "s3://bkt/a/b/c");
        assert_eq!(S3Uri::parse_prefix("s3://bkt").unwrap().join("c").to_string(), "s3://bkt/c");
        assert_eq!(
            PipelineSource::parse("https://x/p.json").unwrap_err(),
            r#""https://x/p.json" is not an s3:// URI (a path has no scheme)"#
        );
        assert_eq!(S3Uri::parse("s3://bkt/").unwrap_err(), r#""s3://bkt/" names no object: expected s3://BUCKET/KEY"#);
        assert_eq!(S3Uri::parse("s3://Bad_Bucket/k").unwrap_err(), r#""s3://Bad_Bucket/k": "Bad_Bucket" is not an S3 bucket name"#);
    }
}
