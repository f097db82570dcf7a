//! Typed requests and responses of every gateway endpoint (carrier-gateway.md §5),
//! camelCase on the wire, optional fields omitted when empty. Shapes the upstream
//! document leaves unknown (U6, U7) are this project's assumptions, shared with the
//! fake gateway.

use serde::{Deserialize, Serialize};

use super::client::{GatewayClient, GatewayError};

/// `cardNo` (the ICCID) of the flow-card queries.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CardReq<'a> {
    pub card_no: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extend: Option<&'a str>,
}

/// `/flow-card/status` answer (U6: assumed `{iccid, status}`, 1 started, 0 stopped).
#[derive(Debug, Deserialize, PartialEq)]
pub struct CardStatusResp {
    pub iccid: String,
    pub status: i64,
}

/// `/flow-card/flow` answer.
#[derive(Debug, Deserialize, PartialEq)]
pub struct FlowUsageResp {
    pub iccid: String,
    /// MB used this month.
    pub used: f64,
    pub unit: String,
}

/// `/flow-card/realName` answer.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RealnameStatusResp {
    pub iccid: String,
    pub real_status: bool,
}

/// `/flow-card/RealNameVerification` answer.
#[derive(Debug, Deserialize, PartialEq)]
pub struct RealnameLinkResp {
    pub url: String,
}

/// `/device/info` and `/device/slot-info` request (one of the two is required).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceInfoReq<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_no: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_id: Option<&'a str>,
}

/// `/device/speed-limit` request.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SpeedLimitReq<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_no: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_id: Option<&'a str>,
    /// KB/s, at least 1.
    pub speed_limit: i64,
}

/// `/device/wifi-config` request.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WifiReq<'a> {
    /// ICCID (required).
    pub card_no: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_id: Option<&'a str>,
    pub ssid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<&'a str>,
    pub enabled: bool,
}

/// `/device/card-switch` request: `cardNo` carries the device IMEI.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SwitchCardReq<'a> {
    pub card_no: &'a str,
    pub iccid: &'a str,
    /// Always 2.
    pub operation_type: i64,
}

/// `/device/restart` and `/device/factory-reset` request (U8: `{deviceId}`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceOperationReq<'a> {
    pub device_id: &'a str,
}

/// Commands answer with data the client ignores.
pub type Ignored = serde::de::IgnoredAny;

impl GatewayClient {
    /// Card network status.
    pub async fn card_status(&self, iccid: &str) -> Result<CardStatusResp, GatewayError> {
        self.call(
            "/flow-card/status",
            &CardReq {
                card_no: iccid,
                extend: None,
            },
        )
        .await
    }

    /// Data used this month.
    pub async fn flow(&self, iccid: &str) -> Result<FlowUsageResp, GatewayError> {
        self.call(
            "/flow-card/flow",
            &CardReq {
                card_no: iccid,
                extend: None,
            },
        )
        .await
    }

    /// Real-name status.
    pub async fn realname(&self, iccid: &str) -> Result<RealnameStatusResp, GatewayError> {
        self.call(
            "/flow-card/realName",
            &CardReq {
                card_no: iccid,
                extend: None,
            },
        )
        .await
    }

    /// The carrier's real-name page.
    pub async fn realname_link(&self, iccid: &str) -> Result<RealnameLinkResp, GatewayError> {
        self.call(
            "/flow-card/RealNameVerification",
            &CardReq {
                card_no: iccid,
                extend: None,
            },
        )
        .await
    }

    /// Stops (`stop = true`) or starts a card.
    pub async fn switch_card_network(&self, iccid: &str, stop: bool) -> Result<(), GatewayError> {
        let path = if stop {
            "/flow-card/cardStop"
        } else {
            "/flow-card/cardStart"
        };
        self.call::<_, Ignored>(
            path,
            &CardReq {
                card_no: iccid,
                extend: None,
            },
        )
        .await
        .map(|_| ())
    }

    /// Device information (U7: returned as raw JSON).
    pub async fn device_info(&self, device_id: &str) -> Result<serde_json::Value, GatewayError> {
        self.call(
            "/device/info",
            &DeviceInfoReq {
                card_no: None,
                device_id: Some(device_id),
            },
        )
        .await
    }

    /// Sets a device's speed limit.
    pub async fn speed_limit(&self, device_id: &str, kbps: i64) -> Result<(), GatewayError> {
        let req = SpeedLimitReq {
            card_no: None,
            device_id: Some(device_id),
            speed_limit: kbps,
        };
        self.call::<_, Ignored>("/device/speed-limit", &req)
            .await
            .map(|_| ())
    }

    /// Configures a device's WiFi.
    pub async fn wifi(&self, req: &WifiReq<'_>) -> Result<(), GatewayError> {
        self.call::<_, Ignored>("/device/wifi-config", req)
            .await
            .map(|_| ())
    }

    /// Switches a device to another of its cards.
    pub async fn switch_device_card(&self, imei: &str, iccid: &str) -> Result<(), GatewayError> {
        let req = SwitchCardReq {
            card_no: imei,
            iccid,
            operation_type: 2,
        };
        self.call::<_, Ignored>("/device/card-switch", &req)
            .await
            .map(|_| ())
    }

    /// Reboots a device.
    pub async fn reboot(&self, device_id: &str) -> Result<(), GatewayError> {
        self.call::<_, Ignored>("/device/restart", &DeviceOperationReq { device_id })
            .await
            .map(|_| ())
    }

    /// Resets a device to factory settings.
    pub async fn factory_reset(&self, device_id: &str) -> Result<(), GatewayError> {
        self.call::<_, Ignored>("/device/factory-reset", &DeviceOperationReq { device_id })
            .await
            .map(|_| ())
    }
}
