//! `MasterService` over gRPC: a thin layer over [`Master`]'s operations.

use std::sync::Arc;

use strata_proto::v1 as pb;
use strata_proto::v1::master_service_server::MasterService;
use tonic::{Request, Response, Status};

use super::Master;
use crate::error::invalid;

/// The gRPC face of a [`Master`].
#[derive(Clone, Debug)]
pub struct MasterGrpc(pub Arc<Master>);

#[tonic::async_trait]
impl MasterService for MasterGrpc {
    async fn create_table(
        &self,
        req: Request<pb::CreateTableRequest>,
    ) -> Result<Response<pb::CreateTableResponse>, Status> {
        let req = req.into_inner();
        let schema = req
            .schema
            .ok_or_else(|| invalid("CreateTable needs a schema"))?;
        let regions = self.0.create_table(schema, req.split_keys).await?;
        Ok(Response::new(pb::CreateTableResponse { regions }))
    }

    async fn delete_table(
        &self,
        req: Request<pb::DeleteTableRequest>,
    ) -> Result<Response<pb::DeleteTableResponse>, Status> {
        self.0.delete_table(req.into_inner().name).await?;
        Ok(Response::new(pb::DeleteTableResponse {}))
    }

    async fn disable_table(
        &self,
        req: Request<pb::DisableTableRequest>,
    ) -> Result<Response<pb::DisableTableResponse>, Status> {
        self.0.disable_table(req.into_inner().name).await?;
        Ok(Response::new(pb::DisableTableResponse {}))
    }

    async fn enable_table(
        &self,
        req: Request<pb::EnableTableRequest>,
    ) -> Result<Response<pb::EnableTableResponse>, Status> {
        self.0.enable_table(req.into_inner().name).await?;
        Ok(Response::new(pb::EnableTableResponse {}))
    }

    async fn list_tables(
        &self,
        _req: Request<pb::ListTablesRequest>,
    ) -> Result<Response<pb::ListTablesResponse>, Status> {
        Ok(Response::new(pb::ListTablesResponse {
            names: self.0.list_tables(),
        }))
    }

    async fn describe_table(
        &self,
        req: Request<pb::DescribeTableRequest>,
    ) -> Result<Response<pb::DescribeTableResponse>, Status> {
        self.0
            .describe_table(&req.into_inner().name)
            .map(Response::new)
    }

    async fn locate_region(
        &self,
        req: Request<pb::LocateRegionRequest>,
    ) -> Result<Response<pb::LocateRegionResponse>, Status> {
        let req = req.into_inner();
        let location = self.0.locate(&req.table, &req.row)?;
        Ok(Response::new(pb::LocateRegionResponse {
            location: Some(location),
        }))
    }

    async fn split_region(
        &self,
        req: Request<pb::SplitRegionRequest>,
    ) -> Result<Response<pb::SplitRegionResponse>, Status> {
        let req = req.into_inner();
        let row = req.split_row.map(|r| r.to_vec());
        let daughters = self.0.split(&req.table, &req.region_id, row).await?;
        Ok(Response::new(pb::SplitRegionResponse { daughters }))
    }

    async fn register_server(
        &self,
        req: Request<pb::RegisterServerRequest>,
    ) -> Result<Response<pb::RegisterServerResponse>, Status> {
        self.0
            .register_server(req.into_inner())
            .await
            .map(Response::new)
    }

    async fn heartbeat(
        &self,
        req: Request<pb::HeartbeatRequest>,
    ) -> Result<Response<pb::HeartbeatResponse>, Status> {
        Ok(Response::new(self.0.heartbeat(req.into_inner())))
    }

    async fn report_server_stopped(
        &self,
        req: Request<pb::ReportServerStoppedRequest>,
    ) -> Result<Response<pb::ReportServerStoppedResponse>, Status> {
        Ok(Response::new(self.0.server_stopped(req.into_inner())))
    }

    async fn cluster_status(
        &self,
        _req: Request<pb::ClusterStatusRequest>,
    ) -> Result<Response<pb::ClusterStatusResponse>, Status> {
        Ok(Response::new(self.0.cluster_status("")))
    }

    async fn list_regions(
        &self,
        req: Request<pb::ListRegionsRequest>,
    ) -> Result<Response<pb::ListRegionsResponse>, Status> {
        let regions = self.0.list_regions(&req.into_inner().table)?;
        Ok(Response::new(pb::ListRegionsResponse { regions }))
    }

    async fn move_region(
        &self,
        req: Request<pb::MoveRegionRequest>,
    ) -> Result<Response<pb::MoveRegionResponse>, Status> {
        let r = req.into_inner();
        let location = self.0.move_region(r.table, r.region_id, r.server).await?;
        Ok(Response::new(pb::MoveRegionResponse {
            location: Some(location),
        }))
    }

    async fn assign_region(
        &self,
        req: Request<pb::AssignRegionRequest>,
    ) -> Result<Response<pb::AssignRegionResponse>, Status> {
        let r = req.into_inner();
        let location = self.0.assign_region(r.table, r.region_id).await?;
        Ok(Response::new(pb::AssignRegionResponse {
            location: Some(location),
        }))
    }

    async fn unassign_region(
        &self,
        req: Request<pb::UnassignRegionRequest>,
    ) -> Result<Response<pb::UnassignRegionResponse>, Status> {
        let r = req.into_inner();
        self.0.unassign_region_op(r.table, r.region_id).await?;
        Ok(Response::new(pb::UnassignRegionResponse {}))
    }

    async fn balance(
        &self,
        _req: Request<pb::BalanceRequest>,
    ) -> Result<Response<pb::BalanceResponse>, Status> {
        let moves = self.0.balance().await? as u64;
        Ok(Response::new(pb::BalanceResponse { moves }))
    }
}
