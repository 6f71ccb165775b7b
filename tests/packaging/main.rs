//! The packaging: the Dockerfile (static checks), the Helm chart and the kustomize tree.

mod docker;
mod helm;
mod kustomize;
