//! Sluicegate's Lambda glue: configuration, the Elasticsearch/OpenSearch client, the S3 archiver.

pub mod es;
