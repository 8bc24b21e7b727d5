//! `GET /openapi.json` (behaviour.md section 14): an OpenAPI 3.1 document of every route the
//! server serves, each under its literal path with its method (the payment routes come from
//! [`openmidas_protocol::ROUTES`], one entry per path: no templated `{op}` paths). The
//! answers and `{errcode, errmsg}` come from the protocol's types (`utoipa::ToSchema`,
//! feature `openapi`); the dialects' request bodies are read from raw JSON, not from serde
//! types, so their schemas are built here from the field rules of behaviour.md sections 3.2,
//! 9.2 and 10.2 and the protocol's limits. The errcode tables in the tags' descriptions come
//! from the protocol's tables.
//!
//! One document for both modes: the emulator controls (behaviour.md section 13) carry the tag
//! `controls` and `x-openmidas-mode: emulator` (in ledger mode they answer 404). The
//! document is built once; `tests/openapi.rs` compares it with a snapshot in the repository
//! and checks that it names every route the router serves.

use std::fmt::Write;
use std::sync::LazyLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use openmidas_protocol::client::{game_item, midas_payment, virtual_payment, MAX_OUT_TRADE_NO_CHARS};
use openmidas_protocol::limits::{MAX_AMOUNT, MAX_BILL_NO_CHARS, MAX_ID_BYTES, MAX_REMARK_BYTES, MAX_USER_IP_BYTES};
use openmidas_protocol::route::{Operation as RouteOperation, ROUTES};
use openmidas_protocol::{common, diagnose, v1, v2, wire, xpay, ErrorCode};
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{
    AllOfBuilder, AnyOfBuilder, ArrayBuilder, ComponentsBuilder, KnownFormat, ObjectBuilder, OneOfBuilder, Schema,
    SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    Content, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Ref, RefOr, Required, ResponseBuilder,
};
use utoipa::ToSchema;

/// The document, as served.
static DOCUMENT: LazyLock<String> =
    LazyLock::new(|| document().to_pretty_json().expect("the OpenAPI document serializes"));

/// `GET /openapi.json`.
pub async fn get() -> Response {
    ([(CONTENT_TYPE, "application/json")], DOCUMENT.as_str()).into_response()
}

/// The security scheme of the WeChat routes: the `access_token` query parameter.
const ACCESS_TOKEN: &str = "access_token";
/// The security scheme of the admin routes: `Authorization: Bearer <admin token>`.
const ADMIN_TOKEN: &str = "admin_token";

/// The tags, in the document's order: (name, description).
const TAG_V1: &str = "midas-v1";
const TAG_V2: &str = "virtual-payment-2.0";
const TAG_XPAY: &str = "xpay";
const TAG_TOKENS: &str = "tokens";
const TAG_ADMIN: &str = "admin";
const TAG_CLIENT: &str = "client";
const TAG_PUSHES: &str = "pushes";
const TAG_CONTROLS: &str = "controls";
const TAG_OPERATING: &str = "operating";
const TAG_UI: &str = "ui";
/// The security scheme of the dashboard's pages: the session cookie `/ui/login` sets.
const UI_SESSION: &str = "ui_session";

/// The whole document.
pub fn document() -> OpenApi {
    let mut doc = Doc::default();
    payment_routes(&mut doc);
    token_routes(&mut doc);
    admin_routes(&mut doc);
    client_routes(&mut doc);
    control_routes(&mut doc);
    operating_routes(&mut doc);
    ui_routes(&mut doc);

    let mut components = ComponentsBuilder::new()
        .security_scheme(
            ACCESS_TOKEN,
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "access_token",
                "From `GET /cgi-bin/token` or `POST /cgi-bin/stable_token` (behaviour.md section 2).",
            ))),
        )
        .security_scheme(
            ADMIN_TOKEN,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "`Authorization: Bearer <admin token>` (`--admin-token`, behaviour.md section 7); \
                         without it an admin route answers HTTP 401, errcode 40001.",
                    ))
                    .build(),
            ),
        )
        .security_scheme(
            UI_SESSION,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "om_session",
                "The dashboard's session, set by `POST /ui/login` (HttpOnly, SameSite=Strict, Path=/ui); forms \
                 that change state also carry its CSRF token (`csrf`).",
            ))),
        )
        .response(
            "Error",
            ResponseBuilder::new()
                .description(
                    "A failure: `{errcode, errmsg}`. Most failures are HTTP 200, as WeChat answers them; an \
                     unknown path 404, a wrong method 405, a body over 64 KiB 413, a missing admin token 401, \
                     a bug 500 (behaviour.md section 5). On a WeChat route every nonzero errmsg ends with \
                     ` rid: <request id>`.",
                )
                .content("application/json", json_content(schema_ref::<wire::ErrorBody>())),
        );
    components = typed_schemas(components);
    for (name, schema) in doc.schemas {
        components = components.schema(name, schema);
    }

    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("OpenMidas")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "An emulator and a durable ledger of WeChat's virtual-payment APIs: Midas v1, virtual \
                     payment 2.0 and xpay on one ledger, the token and session routes, the simulated player \
                     and the admin API (docs/behaviour.md). Routes tagged `controls` (extension \
                     `x-openmidas-mode: emulator`) exist in emulator mode only; in ledger mode they answer \
                     404.",
                )),
        )
        .paths(doc.paths)
        .components(Some(components.build()))
        .tags(Some(tags()))
        .build()
}

/// Paths and the hand-built schemas, as the routes add them.
#[derive(Default)]
struct Doc {
    paths: PathsBuilder,
    schemas: Vec<(String, RefOr<Schema>)>,
}

impl Doc {
    fn route(&mut self, method: HttpMethod, path: &str, operation: OperationBuilder) {
        let paths = std::mem::take(&mut self.paths);
        self.paths = paths.path(path, PathItem::new(method, operation.build()));
    }

    /// Registers a hand-built schema under `name` (once) and answers a reference to it.
    fn schema(&mut self, name: &str, schema: impl Into<RefOr<Schema>>) -> RefOr<Schema> {
        if !self.schemas.iter().any(|(n, _)| n == name) {
            self.schemas.push((name.to_string(), schema.into()));
        }
        Ref::from_schema_name(name).into()
    }
}

// --- The payment routes -------------------------------------------------------------------

fn payment_routes(doc: &mut Doc) {
    for route in ROUTES {
        let operation = match route.operation {
            RouteOperation::V1(endpoint) => v1_operation(doc, endpoint),
            RouteOperation::V2(op) => v2_operation(doc, op),
            RouteOperation::Xpay(op) => xpay_operation(doc, op),
        };
        doc.route(
            HttpMethod::Post,
            route.path,
            operation.operation_id(Some(operation_id(route.path))),
        );
    }
}

/// `/cgi-bin/midas/sandbox/pay` -> `cgi-bin.midas.sandbox.pay` (`/ui/` -> `ui.index`).
fn operation_id(path: &str) -> String {
    let mut id: Vec<&str> = path.split(['/', '{', '}']).filter(|part| !part.is_empty()).collect();
    if path.ends_with('/') {
        id.push("index");
    }
    id.join(".")
}

fn v1_operation(doc: &mut Doc, endpoint: v1::Endpoint) -> OperationBuilder {
    let op = endpoint.op;
    let env = if endpoint.sandbox { "sandbox" } else { "official" };
    let (name, answer) = match op {
        v1::Op::GetBalance => ("GetBalance", schema_ref::<v1::answer::GetBalanceOk>()),
        v1::Op::Pay => ("Pay", schema_ref::<v1::answer::PayOk>()),
        v1::Op::CancelPay => ("CancelPay", schema_ref::<v1::answer::CancelPayOk>()),
        v1::Op::Present => ("Present", schema_ref::<v1::answer::PresentOk>()),
    };
    let body = doc.schema(&format!("v1.{name}Request"), v1_body(op));
    OperationBuilder::new()
        .tag(TAG_V1)
        .summary(Some(format!("Midas v1 {} ({env})", op.path_name())))
        .description(Some(format!(
            "behaviour.md section 3. The {env} environment (the path decides it). `sig` and `mp_sig` are \
             body fields (section 3.3), signed with the {env} AppKey and the player's session_key. Errcodes: \
             the tag's table."
        )))
        .security(SecurityRequirement::new(ACCESS_TOKEN, Vec::<String>::new()))
        .request_body(Some(json_body(body)))
        .response("200", wechat_answer(answer))
        .response("413", error_ref())
        .response("default", error_ref())
}

fn v1_body(op: v1::Op) -> ObjectBuilder {
    let mut body = object("A v1 request body (behaviour.md section 3.2). Other keys are accepted; `sig` covers them.")
        .required_field("appid", id("The app; must be the access token's app."))
        .required_field("offer_id", id("The app's offer_id."))
        .required_field("openid", id("The player."))
        .required_field("zone_id", id("The zone."))
        .required_field("pf", id("The platform (`android`, ...)."))
        .required_field(
            "ts",
            integer(None, None, "UNIX seconds (checked against the app's `ts_window_secs`)."),
        );
    match op {
        v1::Op::GetBalance => {}
        v1::Op::Pay => {
            body = body
                .required_field("amt", amount("Coins to deduct, gift first."))
                .required_field("bill_no", v1_bill_no("The pay's number (idempotency key)."));
        }
        v1::Op::CancelPay => {
            body = body.required_field("bill_no", v1_bill_no("The number of the pay to cancel."));
        }
        v1::Op::Present => {
            body = body
                .required_field("present_counts", amount("Gift coins to give."))
                .required_field("bill_no", v1_bill_no("The present's number (idempotency key)."));
        }
    }
    body = body
        .required_field(
            "sig",
            hex_signature("hex HMAC-SHA256 with the environment's AppKey (behaviour.md section 3.3)."),
        )
        .optional_field("user_ip", bytes(0, MAX_USER_IP_BYTES, "The player's IP."));
    if matches!(op, v1::Op::Pay | v1::Op::CancelPay) {
        body = body.optional_field("pay_item", bytes(0, MAX_REMARK_BYTES, "Free text."));
    }
    if op == v1::Op::Pay {
        body = body.optional_field("app_remark", bytes(0, MAX_REMARK_BYTES, "Free text."));
    }
    body.optional_field(
        "mp_sig",
        hex_signature("hex HMAC-SHA256 with the player's session_key (required when the app sets `require_mp_sig`)."),
    )
}

fn v2_operation(doc: &mut Doc, op: v2::Op) -> OperationBuilder {
    let (name, answer) = match op {
        v2::Op::GetBalance => ("GetBalance", schema_ref::<v2::answer::GetBalanceOk>()),
        v2::Op::Pay => ("Pay", schema_ref::<v2::answer::PayOk>()),
        v2::Op::CancelPay => ("CancelPay", schema_ref::<v2::answer::CancelPayOk>()),
        v2::Op::Present => ("Present", schema_ref::<v2::answer::PresentOk>()),
        v2::Op::QueryOrderInfo => ("QueryOrderInfo", schema_ref::<v2::answer::QueryOrderInfoOk>()),
    };
    let body = doc.schema(&format!("v2.{name}Request"), v2_body(op));
    OperationBuilder::new()
        .tag(TAG_V2)
        .summary(Some(format!("Virtual payment 2.0 {}", op.path_name())))
        .description(Some(
            "behaviour.md section 9. The body's `env` picks the environment. `pay_sig` signs `<path>&<body \
             bytes>` with that environment's AppKey, `signature` the body bytes with the player's session_key \
             (lowercase hex unless the app's `signature_hex` is `any`). Errcodes: the tag's table.",
        ))
        .security(SecurityRequirement::new(ACCESS_TOKEN, Vec::<String>::new()))
        .parameter(query_param(
            "signature",
            true,
            hex_signature("hex HMAC-SHA256(session_key, body bytes)."),
        ))
        .parameter(query_param(
            "sig_method",
            true,
            enum_strings(&[v2::SIG_METHOD], "The signature method."),
        ))
        .parameter(query_param(
            "pay_sig",
            true,
            hex_signature("hex HMAC-SHA256(AppKey of the body's env, `<path>&<body bytes>`)."),
        ))
        .request_body(Some(json_body(body)))
        .response("200", wechat_answer(answer))
        .response("413", error_ref())
        .response("default", error_ref())
}

fn v2_body(op: v2::Op) -> ObjectBuilder {
    let mut body = object(
        "A 2.0 request body (behaviour.md section 9.2), signed as the exact bytes sent. Other keys are ignored.",
    )
    .required_field("openid", id("The player."))
    .required_field("offer_id", id("The token's app's offer_id."))
    .required_field(
        "ts",
        integer(None, None, "UNIX seconds (checked against the app's `ts_window_secs`)."),
    )
    .required_field("zone_id", id("The zone."))
    .required_field("env", env_flag());
    if op != v2::Op::QueryOrderInfo {
        body = body.optional_field("user_ip", bytes(0, MAX_USER_IP_BYTES, "The player's IP."));
    }
    match op {
        v2::Op::GetBalance => {
            body = body.optional_field(
                "coin_type",
                enum_integers(
                    &[0, 1],
                    "0: the game's coins in `zone_id`; 1: the top-up centre's (zone \"1\").",
                ),
            );
        }
        v2::Op::Pay => {
            body = body
                .required_field("amount", amount("Coins to deduct, gift first."))
                .required_field("bill_no", v2_bill_no("The pay's number (idempotency key)."))
                .optional_field("payitem", bytes(0, MAX_REMARK_BYTES, "Free text."))
                .optional_field("remark", bytes(0, MAX_REMARK_BYTES, "Free text."));
        }
        v2::Op::CancelPay => {
            body = body
                .required_field("bill_no", v2_bill_no("This refund's own number."))
                .required_field(
                    "pay_bill_no",
                    v1_bill_no("The number of the pay to refund (v1's rule)."),
                )
                .required_field("amount", amount("Coins to give back, at most what is left of the pay."));
        }
        v2::Op::Present => {
            body = body
                .required_field("amount", amount("Gift coins to give."))
                .required_field("bill_no", v2_bill_no("The present's number (idempotency key)."));
        }
        v2::Op::QueryOrderInfo => {
            body = body
                .required_field(
                    "out_trade_no",
                    bytes(1, v2::request::MAX_OUT_TRADE_NO_BYTES, "The purchase's number."),
                )
                .required_field(
                    "biz_id",
                    enum_integers(&[1, 2], "1: a coin purchase; 2: an item purchase."),
                );
        }
    }
    body
}

fn xpay_operation(doc: &mut Doc, op: xpay::Op) -> OperationBuilder {
    let (name, answer) = match op {
        xpay::Op::QueryUserBalance => ("QueryUserBalance", schema_ref::<xpay::answer::QueryUserBalanceOk>()),
        xpay::Op::CurrencyPay => ("CurrencyPay", schema_ref::<xpay::answer::CurrencyPayOk>()),
        xpay::Op::CancelCurrencyPay => ("CancelCurrencyPay", schema_ref::<xpay::answer::CancelCurrencyPayOk>()),
        xpay::Op::PresentCurrency => ("PresentCurrency", schema_ref::<xpay::answer::PresentCurrencyOk>()),
        xpay::Op::QueryOrder => ("QueryOrder", schema_ref::<xpay::answer::QueryOrderOk>()),
        xpay::Op::RefundOrder => ("RefundOrder", schema_ref::<xpay::answer::RefundOrderOk>()),
        xpay::Op::NotifyProvideGoods => ("NotifyProvideGoods", schema_ref::<xpay::answer::NotifyProvideGoodsOk>()),
        xpay::Op::DownloadBill => ("DownloadBill", schema_ref::<xpay::answer::DownloadBillOk>()),
    };
    let body = doc.schema(&format!("xpay.{name}Request"), xpay_body(op));
    let mut operation = OperationBuilder::new()
        .tag(TAG_XPAY)
        .summary(Some(format!("xpay {}", op.name())))
        .description(Some(
            "behaviour.md section 10. The body's `env` picks the environment. `pay_sig` signs `<path>&<body \
             bytes>` with that environment's AppKey; where required, `signature` signs the body bytes with \
             the player's session_key. xpay has no `sig_method`. Errcodes: the tag's table.",
        ))
        .security(SecurityRequirement::new(ACCESS_TOKEN, Vec::<String>::new()))
        .parameter(query_param(
            "pay_sig",
            true,
            hex_signature("hex HMAC-SHA256(AppKey of the body's env, `<path>&<body bytes>`)."),
        ));
    if op.needs_signature() {
        operation = operation.parameter(query_param(
            "signature",
            true,
            hex_signature("hex HMAC-SHA256(session_key, body bytes)."),
        ));
    }
    operation
        .request_body(Some(json_body(body)))
        .response("200", wechat_answer(answer))
        .response("413", error_ref())
        .response("default", error_ref())
}

fn xpay_body(op: xpay::Op) -> Schema {
    let mut body = object(
        "An xpay request body (behaviour.md section 10.2), signed as the exact bytes sent. Other keys are ignored.",
    );
    if op.takes_openid() {
        body = body.required_field("openid", id("The player."));
    }
    body = if op == xpay::Op::DownloadBill {
        body.optional_field("env", env_flag())
    } else {
        body.required_field("env", env_flag())
    };
    if op.takes_user_ip() {
        body = body.optional_field("user_ip", bytes(0, MAX_USER_IP_BYTES, "The player's IP."));
    }
    let order_ref = matches!(
        op,
        xpay::Op::QueryOrder | xpay::Op::RefundOrder | xpay::Op::NotifyProvideGoods
    );
    match op {
        xpay::Op::QueryUserBalance => {}
        xpay::Op::CurrencyPay => {
            body = body
                .required_field("amount", amount("Coins to deduct, gift first."))
                .required_field("order_id", xpay_order_id("The pay's number."))
                .optional_field("payitem", bytes(0, MAX_REMARK_BYTES, "Free text."))
                .optional_field("remark", bytes(0, MAX_REMARK_BYTES, "Free text."));
        }
        xpay::Op::CancelCurrencyPay => {
            body = body
                .required_field("pay_order_id", xpay_order_id("The pay to give coins back from."))
                .required_field("order_id", xpay_order_id("This refund's own number."))
                .required_field("amount", amount("Coins to give back."));
        }
        xpay::Op::PresentCurrency => {
            body = body
                .required_field("order_id", xpay_order_id("The present's number."))
                .required_field("amount", amount("Gift coins to give."));
        }
        xpay::Op::QueryOrder | xpay::Op::NotifyProvideGoods => {}
        xpay::Op::RefundOrder => {
            body = body
                .required_field(
                    "refund_order_id",
                    string_pattern(
                        &format!(
                            "^[A-Za-z0-9_-]{{{},{}}}$",
                            xpay::request::MIN_ORDER_ID_CHARS,
                            xpay::request::MAX_ORDER_ID_CHARS
                        ),
                        "The refund order's own number.",
                    ),
                )
                .required_field(
                    "left_fee",
                    integer(Some(0), None, "Fen still refundable: must be exactly what is left."),
                )
                .required_field("refund_fee", integer(Some(1), None, "Fen to refund, 1 to `left_fee`."))
                .required_field("refund_reason", enum_strings(&["0", "1", "2", "3", "4", "5"], "Why."))
                .required_field("req_from", enum_strings(&["1", "2", "3"], "Who asks."))
                .optional_field(
                    "biz_meta",
                    bytes(0, xpay::request::MAX_BIZ_META_BYTES, "Echoed in `query_order`."),
                );
        }
        xpay::Op::DownloadBill => {
            let day = |first: &str| {
                OneOfBuilder::new()
                    .item(integer(Some(19700101), Some(99991231), "`yyyymmdd`."))
                    .item(string_pattern(
                        "^[0-9]{8}$",
                        "`yyyymmdd` as a string, as some clients send it.",
                    ))
                    .description(Some(format!(
                        "The {first} day of the range (China time, UTC+8), both included; at most {} days.",
                        xpay::request::MAX_BILL_DAYS
                    )))
            };
            body = body
                .required_field("begin_ds", day("first"))
                .required_field("end_ds", day("last"));
        }
    }
    if order_ref {
        body = body
            .optional_field(
                "order_id",
                xpay_order_id("The order's number (exactly one of `order_id`, `wx_order_id`)."),
            )
            .optional_field(
                "wx_order_id",
                bytes(
                    1,
                    xpay::request::MAX_WX_ORDER_ID_BYTES,
                    "The platform's id of the order.",
                ),
            );
        let one = |field: &str| ObjectBuilder::new().required(field);
        return Schema::AllOf(
            AllOfBuilder::new()
                .item(body)
                .item(OneOfBuilder::new().item(one("order_id")).item(one("wx_order_id")))
                .build(),
        );
    }
    body.into()
}

// --- Tokens and sessions --------------------------------------------------------------------

fn token_routes(doc: &mut Doc) {
    let appid = || query_param("appid", true, id("The app."));
    let secret = || query_param("secret", true, string("The AppSecret."));
    doc.route(
        HttpMethod::Get,
        "/cgi-bin/token",
        OperationBuilder::new()
            .tag(TAG_TOKENS)
            .operation_id(Some("cgi-bin.token"))
            .summary(Some("Issue an access token"))
            .description(Some(
                "behaviour.md section 2. Each call issues a new token (valid 7200 s); the app's earlier ones \
                 stay valid 300 s more. The success answer has no errcode.",
            ))
            .parameter(query_param(
                "grant_type",
                true,
                enum_strings(&["client_credential"], "The grant."),
            ))
            .parameter(appid())
            .parameter(secret())
            .response("200", wechat_answer(schema_ref::<wire::AccessTokenOk>()))
            .response("default", error_ref()),
    );
    let stable = doc.schema(
        "StableTokenRequest",
        object("behaviour.md section 2.")
            .required_field("grant_type", enum_strings(&["client_credential"], "The grant."))
            .required_field("appid", id("The app."))
            .required_field("secret", string("The AppSecret."))
            .optional_field(
                "force_refresh",
                boolean("Issue a new token and retire the current one (not within 30 s of the last issue)."),
            ),
    );
    doc.route(
        HttpMethod::Post,
        "/cgi-bin/stable_token",
        OperationBuilder::new()
            .tag(TAG_TOKENS)
            .operation_id(Some("cgi-bin.stable_token"))
            .summary(Some("Get the app's stable access token"))
            .description(Some(
                "behaviour.md section 2: the current stable token with the seconds it has left, until 300 s \
                 before it expires. The success answer has no errcode.",
            ))
            .request_body(Some(json_body(stable)))
            .response("200", wechat_answer(schema_ref::<wire::AccessTokenOk>()))
            .response("413", error_ref())
            .response("default", error_ref()),
    );
    doc.route(
        HttpMethod::Get,
        "/sns/jscode2session",
        OperationBuilder::new()
            .tag(TAG_TOKENS)
            .operation_id(Some("sns.jscode2session"))
            .summary(Some("Exchange a login code for a session"))
            .description(Some(
                "behaviour.md section 2. A code (from `POST /admin/login`) is exchanged at most once, within \
                 300 s; each exchange makes a new session_key, the only valid one of the player. The success \
                 answer has no errcode.",
            ))
            .parameter(appid())
            .parameter(secret())
            .parameter(query_param("js_code", true, string("The login code.")))
            .parameter(query_param(
                "grant_type",
                true,
                enum_strings(&["authorization_code"], "The grant."),
            ))
            .response("200", wechat_answer(schema_ref::<wire::Jscode2SessionOk>()))
            .response("default", error_ref()),
    );
}

// --- Administration -------------------------------------------------------------------------

fn admin_routes(doc: &mut Doc) {
    let push = doc.schema(
        "PushSettings",
        object("Where and how events are pushed (behaviour.md section 12.1); saved only after the URL check.")
            .required_field("url", bytes(1, 512, "`http://` or `https://`."))
            .required_field("token", string_pattern("^[A-Za-z0-9]{3,32}$", "The push token."))
            .optional_field(
                "encoding_aes_key",
                string_pattern(
                    "^[A-Za-z0-9]{43}$",
                    "The EncodingAESKey; exactly when `mode` is `safe`.",
                ),
            )
            .optional_field("mode", enum_strings(&["plain", "safe"], "Default `plain`."))
            .optional_field(
                "format",
                enum_strings(&["json", "xml"], "The body of xpay events; default `json`."),
            )
            .optional_field("ack", enum_strings(&["strict", "lenient"], "Default `strict`.")),
    );
    let options = |object: ObjectBuilder| {
        object
            .optional_field(
                "require_mp_sig",
                boolean("v1: a request without `mp_sig` answers 90009. Default false."),
            )
            .optional_field(
                "ts_window_secs",
                nullable(integer(
                    Some(1),
                    Some(31_622_400),
                    "The `ts` window (v1, 2.0); null: none.",
                )),
            )
            .optional_field(
                "duplicate_bill_no",
                enum_strings(
                    &["reject", "replay"],
                    "What a same-parameter repeat answers. Default `reject`.",
                ),
            )
            .optional_field(
                "cancel_window_secs",
                integer(
                    Some(0),
                    Some(31_622_400),
                    "v1 cancelpay and 2.0 refunds. Default 172800.",
                ),
            )
            .optional_field(
                "signature_hex",
                enum_strings(
                    &["lower", "any"],
                    "Hex case the 2.0 and xpay signatures take. Default `lower`.",
                ),
            )
            .optional_field(
                "bill_no_charset",
                enum_strings(&["v2", "v1"], "The 2.0 `bill_no` rule. Default `v2`."),
            )
            .optional_field(
                "coin_price_fen",
                integer(Some(1), Some(1_000_000), "What one coin costs, in fen. Default 10."),
            )
            .optional_field(
                "session_ttl_secs",
                nullable(integer(
                    Some(1),
                    Some(31_622_400),
                    "How long a session signs; null: for ever.",
                )),
            )
            .optional_field(
                "refund_delay_secs",
                integer(
                    Some(0),
                    Some(31_622_400),
                    "How long an xpay refund stays in progress. Default 0.",
                ),
            )
            .optional_field(
                "token_daily_limit",
                integer(
                    Some(1),
                    Some(1_000_000),
                    "How many access tokens of each kind the app may be issued in 24 h; the next answers 45009. Default 2000.",
                ),
            )
    };
    let app_push = doc.schema(
        "AppPush",
        object("An app's push settings as shown: never the token or the key.")
            .required_field("url", string("The push URL."))
            .required_field("mode", enum_strings(&["plain", "safe"], ""))
            .required_field("format", enum_strings(&["json", "xml"], ""))
            .required_field("ack", enum_strings(&["strict", "lenient"], "")),
    );
    let settings = doc.schema(
        "AppSettings",
        options(
            object(
                "An app to create (the five credentials required) or update (any subset; what is not sent is kept): \
                 behaviour.md section 6.1.",
            )
            .required_field("appid", id("The app."))
            .optional_field("secret", bytes(1, 256, "The AppSecret."))
            .optional_field("offer_id", id("The Midas offer."))
            .optional_field("app_key", bytes(1, 256, "The official AppKey."))
            .optional_field("sandbox_app_key", bytes(1, 256, "The sandbox AppKey.")),
        )
        .optional_field("push", nullable_ref(push, "null removes the settings.")),
    );
    let app = doc.schema(
        "App",
        options(
            object("An app without its secrets.")
                .required_field("appid", id(""))
                .required_field("offer_id", id("")),
        )
        .required_field("push", nullable_ref(app_push, "")),
    );
    let saved = doc.schema(
        "AppSaved",
        ok_object("The app as saved.")
            .required_field("created", boolean("Whether the call created the app."))
            .required_field("app", app.clone()),
    );
    let apps = doc.schema(
        "AppList",
        ok_object("Every app.").required_field("apps", ArrayBuilder::new().items(app)),
    );
    doc.route(
        HttpMethod::Post,
        "/admin/apps",
        admin_op(
            TAG_ADMIN,
            "admin.apps.post",
            "Create or update an app",
            "behaviour.md section 6.1.",
        )
        .request_body(Some(json_body(settings)))
        .response("200", ok(saved)),
    );
    doc.route(
        HttpMethod::Get,
        "/admin/apps",
        admin_op(
            TAG_ADMIN,
            "admin.apps.get",
            "List the apps",
            "behaviour.md section 6.1.",
        )
        .response("200", ok(apps)),
    );
    let login = doc.schema(
        "LoginRequest",
        object("The simulated `wx.login` (behaviour.md section 6.2).")
            .required_field("appid", id("The app."))
            .optional_field("openid", id("The player; a fresh one when not sent.")),
    );
    doc.route(
        HttpMethod::Post,
        "/admin/login",
        admin_op(
            TAG_CLIENT,
            "admin.login",
            "Simulated wx.login: a login code",
            "behaviour.md section 6.2: a single-use code (valid 300 s) for `/sns/jscode2session`.",
        )
        .request_body(Some(json_body(login)))
        .response("200", ok(schema_ref::<wire::AdminLoginOk>())),
    );
    let entry = doc.schema(
        "JournalEntry",
        object("One balance movement (append-only).")
            .required_field("id", integer(Some(1), None, "The entry's id."))
            .required_field(
                "kind",
                enum_strings(
                    &["recharge", "present", "pay", "refund", "cancelpay"],
                    "What moved the balance.",
                ),
            )
            .required_field("order_no", string("The order's number (a cancelpay's: the pay's)."))
            .required_field("amount", integer(None, None, "Coins."))
            .required_field("cash_delta", integer(None, None, "Change of the cash coins."))
            .required_field("gift_delta", integer(None, None, "Change of the gift coins."))
            .required_field("balance_after", integer(Some(0), None, "The balance after it."))
            .required_field("at_ms", integer(None, None, "When, on the server's clock (UNIX ms).")),
    );
    let journal = doc.schema(
        "Journal",
        ok_object("An account's movements, oldest first.").required_field("entries", ArrayBuilder::new().items(entry)),
    );
    doc.route(
        HttpMethod::Get,
        "/admin/journal",
        admin_op(
            TAG_ADMIN,
            "admin.journal",
            "An account's journal",
            "behaviour.md section 6.3.",
        )
        .parameter(query_param("appid", true, id("The app.")))
        .parameter(query_param("openid", true, id("The player.")))
        .parameter(query_param(
            "env",
            false,
            enum_strings(&["official", "sandbox"], "Default `official`."),
        ))
        .parameter(query_param("zone_id", false, id("Default `1`.")))
        .parameter(query_param(
            "after_id",
            false,
            integer(Some(0), None, "The last id seen; default 0."),
        ))
        .parameter(query_param(
            "limit",
            false,
            integer(Some(1), Some(1000), "Default 100."),
        ))
        .response("200", ok(journal)),
    );
    let push_item = doc.schema(
        "Push",
        object("An event to push (behaviour.md section 12.4).")
            .required_field("id", integer(Some(1), None, "The event's id."))
            .required_field("appid", id(""))
            .required_field("env", enum_strings(&["official", "sandbox"], ""))
            .required_field(
                "event",
                string("The event's wire name (`xpay_goods_deliver_notify`, ...)."),
            )
            .required_field("order_id", string("The order's number."))
            .required_field("status", enum_strings(&["pending", "delivered", "failed"], ""))
            .required_field("attempts", integer(Some(0), None, "Deliveries started."))
            .required_field("delivering", boolean("A node holds its lease now."))
            .required_field(
                "next_attempt_ms",
                nullable(integer(None, None, "The next scheduled delivery (UNIX ms).")),
            )
            .required_field(
                "last_reply",
                nullable(string("The reply, or why the delivery failed (at most 256 bytes).")),
            )
            .required_field(
                "created_ms",
                integer(None, None, "When the event was written (UNIX ms)."),
            ),
    );
    let pushes = doc.schema(
        "PushList",
        ok_object("Events, oldest first.").required_field("items", ArrayBuilder::new().items(push_item.clone())),
    );
    doc.route(
        HttpMethod::Get,
        "/admin/pushes",
        admin_op(
            TAG_PUSHES,
            "admin.pushes",
            "List the push events",
            "behaviour.md section 12.4.",
        )
        .parameter(query_param("appid", false, id("Only this app's.")))
        .parameter(query_param(
            "status",
            false,
            enum_strings(&["pending", "delivered", "failed"], "Only these."),
        ))
        .parameters(Some(page_params()))
        .response("200", ok(pushes)),
    );
    let redelivered = doc.schema(
        "PushRedelivered",
        ok_object("The event after the delivery.").required_field("push", push_item),
    );
    doc.route(
        HttpMethod::Post,
        "/admin/pushes/{id}/redeliver",
        admin_op(
            TAG_PUSHES,
            "admin.pushes.redeliver",
            "Deliver an event now",
            "behaviour.md section 12.4: sends it now whatever its status; moves no schedule. An unknown id \
             answers 40097.",
        )
        .parameter(path_param("id", integer(Some(1), None, "The event's id.")))
        .response("200", ok(redelivered)),
    );
}

// --- The simulated player -------------------------------------------------------------------

fn client_routes(doc: &mut Doc) {
    let env_any = || {
        OneOfBuilder::new()
            .item(enum_strings(&["official", "sandbox"], ""))
            .item(enum_integers(&[0, 1], "2.0's 0 (official) or 1 (sandbox)."))
            .description(Some("The environment."))
    };
    let pay = || {
        enum_strings(
            &["auto", "manual"],
            "`auto` (default): paid at once; `manual`: waits for `/admin/client/purchases/pay` (emulator mode only).",
        )
    };
    let out_trade_no = || {
        string_pattern(
            &format!("^[0-9A-Za-z|*-][0-9A-Za-z_|*-]{{0,{}}}$", MAX_OUT_TRADE_NO_CHARS - 1),
            "A purchase number (behaviour.md section 8.8).",
        )
    };
    let midas = doc.schema(
        "client.MidasPaymentRequest",
        object("A coin purchase through `wx.requestMidasPayment` (behaviour.md section 11.1).")
            .required_field("appid", id("The app."))
            .required_field("openid", id("The player."))
            .required_field("env", env_any())
            .optional_field("offer_id", id("When sent, must be the app's."))
            .optional_field("zone_id", id("Default `1`."))
            .required_field("buy_quantity", amount("Coins to buy."))
            .optional_field("out_trade_no", out_trade_no())
            .optional_field("pay", pay()),
    );
    let midas_ok = doc.schema(
        "client.MidasPaymentOk",
        ok_object("The purchase's number and the balance after it (unchanged while unpaid).")
            .required_field("out_trade_no", string(""))
            .required_field("balance", integer(Some(0), None, "")),
    );
    let midas_codes = errcode_table(midas_payment::Code::ALL);
    for (path, id) in [
        ("/admin/client/midas_payment", "admin.client.midas_payment"),
        ("/admin/recharge", "admin.recharge"),
    ] {
        doc.route(
            HttpMethod::Post,
            path,
            admin_op(
                TAG_CLIENT,
                id,
                "Simulated wx.requestMidasPayment: buy coins",
                &format!(
                    "behaviour.md section 11.1 (`/admin/recharge` is an alias of `/admin/client/midas_payment`). \
                     Fail codes of the client API (HTTP 200):\n\n{midas_codes}"
                ),
            )
            .request_body(Some(json_body(midas.clone())))
            .response("200", ok(midas_ok.clone())),
        );
    }
    doc.schema(
        "client.GameItemSignData",
        object("The signData object of `wx.requestMidasPaymentGameItem`, sent as a JSON string (behaviour.md section 11.2).")
            .optional_field("mode", enum_strings(&["goods"], ""))
            .required_field("offerId", id("The app's offer_id."))
            .required_field("buyQuantity", amount(""))
            .optional_field("env", env_flag())
            .required_field("currencyType", enum_strings(&["CNY"], ""))
            .optional_field("platform", id(""))
            .optional_field("zoneId", id("Default `1`."))
            .required_field("productId", id(""))
            .required_field("goodsPrice", amount("The unit price in fen."))
            .required_field("outTradeNo", out_trade_no())
            .optional_field("attach", bytes(0, MAX_REMARK_BYTES, "Default empty.")),
    );
    let sign_data = |schema: &str| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(4096))
            .content_media_type("application/json")
            .description(Some(format!("The signData: a JSON text of a `{schema}` object.")))
    };
    let game_item = doc.schema(
        "client.GameItemRequest",
        object("An item purchase through `wx.requestMidasPaymentGameItem` (behaviour.md section 11.2).")
            .required_field("appid", id("The app."))
            .required_field("openid", id("The player."))
            .required_field("sign_data", sign_data("client.GameItemSignData"))
            .required_field(
                "pay_sig",
                hex_signature("HMAC-SHA256(AppKey of signData's env, `requestMidasPaymentGameItem&` + sign_data)."),
            )
            .required_field("signature", hex_signature("HMAC-SHA256(session_key, sign_data)."))
            .optional_field("pay", pay()),
    );
    let game_item_ok = doc.schema(
        "client.GameItemOk",
        ok_object("The purchase's number and where it stands.")
            .required_field("out_trade_no", string(""))
            .required_field("status", enum_strings(&["created", "paid"], "")),
    );
    doc.route(
        HttpMethod::Post,
        "/admin/client/game_item",
        admin_op(
            TAG_CLIENT,
            "admin.client.game_item",
            "Simulated wx.requestMidasPaymentGameItem: buy an item",
            &format!(
                "behaviour.md section 11.2 (signData: `client.GameItemSignData`). Fail codes of the client API \
                 (HTTP 200):\n\n{}",
                errcode_table(game_item::Code::ALL)
            ),
        )
        .request_body(Some(json_body(game_item)))
        .response("200", ok(game_item_ok)),
    );
    doc.schema(
        "client.VirtualPaymentSignData",
        object("The signData object of `wx.requestVirtualPayment`, sent as a JSON string (behaviour.md section 11.3).")
            .required_field("offerId", id("The app's offer_id."))
            .required_field("buyQuantity", amount(""))
            .optional_field("env", env_flag())
            .required_field("currencyType", enum_strings(&["CNY"], ""))
            .required_field("outTradeNo", xpay_order_id("The purchase's number."))
            .optional_field("attach", bytes(0, MAX_REMARK_BYTES, ""))
            .optional_field("productId", id("Goods only: required."))
            .optional_field("goodsPrice", amount("Goods only, required: the unit price in fen."))
            .optional_field(
                "activitySellingPrice",
                amount("Goods only: a discounted unit price, 40% to 100% of `goodsPrice`."),
            ),
    );
    let virtual_payment = doc.schema(
        "client.VirtualPaymentRequest",
        object("A purchase through `wx.requestVirtualPayment` (behaviour.md section 11.3).")
            .required_field("appid", id("The app."))
            .required_field("openid", id("The player."))
            .required_field(
                "mode",
                enum_strings(
                    &virtual_payment::Mode::ALL.map(virtual_payment::Mode::as_str),
                    "Coins or goods.",
                ),
            )
            .required_field("sign_data", sign_data("client.VirtualPaymentSignData"))
            .required_field(
                "pay_sig",
                hex_signature("HMAC-SHA256(AppKey of signData's env, `requestVirtualPayment&` + sign_data)."),
            )
            .required_field("signature", hex_signature("HMAC-SHA256(session_key, sign_data)."))
            .optional_field("pay", pay()),
    );
    let virtual_payment_ok = doc.schema(
        "client.VirtualPaymentOk",
        ok_object("The purchase's numbers and where it stands.")
            .required_field("out_trade_no", string(""))
            .required_field(
                "wx_order_id",
                string("The platform's id (xpay's `query_order` finds it by it)."),
            )
            .required_field("status", enum_strings(&["created", "paid", "delivered"], ""))
            .required_field("balance", integer(Some(0), None, "")),
    );
    doc.route(
        HttpMethod::Post,
        "/admin/client/virtual_payment",
        admin_op(
            TAG_CLIENT,
            "admin.client.virtual_payment",
            "Simulated wx.requestVirtualPayment: an xpay purchase",
            &format!(
                "behaviour.md section 11.3 (signData: `client.VirtualPaymentSignData`). Fail codes of the client \
                 API (HTTP 200):\n\n{}",
                errcode_table(virtual_payment::Code::ALL)
            ),
        )
        .request_body(Some(json_body(virtual_payment)))
        .response("200", ok(virtual_payment_ok)),
    );
    let settle = doc.schema(
        "client.PurchaseRef",
        object("A purchase made with `\"pay\": \"manual\"` (behaviour.md section 11.4).")
            .required_field("appid", id("The app."))
            .required_field("env", env_any())
            .required_field("out_trade_no", string("The purchase's number.")),
    );
    let settled = doc.schema(
        "client.PurchaseSettled",
        ok_object("Where the purchase stands now.")
            .required_field("out_trade_no", string(""))
            .required_field(
                "status",
                enum_strings(
                    &["delivered", "paid", "closed"],
                    "`delivered` (coins) or `paid` (an item); `closed`.",
                ),
            )
            .optional_field("balance", integer(Some(0), None, "After paying (not on close).")),
    );
    for (path, id, summary) in [
        (
            "/admin/client/purchases/pay",
            "admin.client.purchases.pay",
            "Pay a waiting purchase",
        ),
        (
            "/admin/client/purchases/close",
            "admin.client.purchases.close",
            "Close a waiting purchase",
        ),
    ] {
        doc.route(
            HttpMethod::Post,
            path,
            admin_op(TAG_CLIENT, id, summary, "behaviour.md section 11.4.")
                .request_body(Some(json_body(settle.clone())))
                .response("200", ok(settled.clone())),
        );
    }
}

// --- Emulator controls ----------------------------------------------------------------------

fn control_routes(doc: &mut Doc) {
    let clock = doc.schema(
        "Clock",
        ok_object("The server's clock (behaviour.md section 13.1).")
            .required_field("now_ms", integer(None, None, "The server's time (UNIX ms)."))
            .required_field(
                "offset_ms",
                integer(None, None, "How far it is from the machine's clock."),
            )
            .required_field("frozen", boolean("Whether it stands still.")),
    );
    let clock_change = doc.schema(
        "ClockChange",
        object("One or more changes, applied in this order (behaviour.md section 13.1).")
            .optional_field("reset", enum_bools(&[true], "Back to real time, running."))
            .optional_field(
                "set_ms",
                integer(Some(0), Some(253_402_300_799_999), "Set the time (UNIX ms)."),
            )
            .optional_field(
                "advance_secs",
                integer(Some(-3_153_600_000), Some(3_153_600_000), "Move the clock, either way."),
            )
            .optional_field("freeze", boolean("Stop or restart the clock.")),
    );
    doc.route(
        HttpMethod::Get,
        "/admin/clock",
        control_op("admin.clock.get", "Read the clock", "behaviour.md section 13.1.")
            .response("200", ok(clock.clone())),
    );
    doc.route(
        HttpMethod::Post,
        "/admin/clock",
        control_op(
            "admin.clock.post",
            "Move, freeze or reset the clock",
            "behaviour.md section 13.1.",
        )
        .request_body(Some(json_body(clock_change)))
        .response("200", ok(clock)),
    );
    let dialects = ["v1", "v2", "xpay", "auth", "client", "push"];
    let fault_match = doc.schema(
        "FaultMatch",
        object("What a rule matches; an omitted key matches anything.")
            .optional_field("dialect", enum_strings(&dialects, "`push`: OpenMidas's deliveries."))
            .optional_field("path", string("The request path, exactly."))
            .optional_field("appid", id(""))
            .optional_field("openid", id("")),
    );
    let fault_rule = doc.schema(
        "FaultRuleRequest",
        object("A fault rule (behaviour.md section 13.2); at least one of `errcode`, `delay_ms`, `drop_connection`.")
            .optional_field("match", fault_match.clone())
            .optional_field("errcode", integer(None, None, "A nonzero errcode to answer."))
            .optional_field("errmsg", string("Default: the dialect's errmsg of that code."))
            .optional_field("when", enum_strings(&["before", "after"], "Default `before`."))
            .optional_field("delay_ms", integer(Some(0), Some(60_000), "Wait this long first."))
            .optional_field("drop_connection", boolean("Close the connection without an answer."))
            .optional_field(
                "times",
                integer(Some(1), Some(1_000_000), "How often it fires; omitted: unlimited."),
            )
            .optional_field("probability", number(0.0, 1.0, "Default 1."))
            .optional_field("seed", integer(Some(0), None, "Default 0.")),
    );
    let fault = doc.schema(
        "FaultRule",
        object("A rule as listed.")
            .required_field("id", integer(Some(1), None, ""))
            .required_field("match", fault_match)
            .required_field("errcode", nullable(integer(None, None, "")))
            .required_field("errmsg", nullable(string("")))
            .required_field("when", enum_strings(&["before", "after"], ""))
            .required_field("delay_ms", integer(Some(0), None, ""))
            .required_field("drop_connection", boolean(""))
            .required_field("times", nullable(integer(Some(1), None, "")))
            .required_field("probability", number(0.0, 1.0, ""))
            .required_field("seed", integer(Some(0), None, ""))
            .required_field("fired", integer(Some(0), None, "How often it fired."))
            .required_field(
                "remaining",
                nullable(integer(Some(0), None, "Firings left; null: unlimited.")),
            ),
    );
    let fault_added = doc.schema(
        "FaultAdded",
        ok_object("The new rule's id.").required_field("id", integer(Some(1), None, "")),
    );
    let faults = doc.schema(
        "FaultList",
        ok_object("The rules, oldest first.").required_field("items", ArrayBuilder::new().items(fault)),
    );
    doc.route(
        HttpMethod::Post,
        "/admin/faults",
        control_op("admin.faults.post", "Add a fault rule", "behaviour.md section 13.2.")
            .request_body(Some(json_body(fault_rule)))
            .response("200", ok(fault_added)),
    );
    doc.route(
        HttpMethod::Get,
        "/admin/faults",
        control_op(
            "admin.faults.list",
            "List the fault rules",
            "behaviour.md section 13.2.",
        )
        .parameters(Some(page_params()))
        .response("200", ok(faults)),
    );
    doc.route(
        HttpMethod::Delete,
        "/admin/faults",
        control_op(
            "admin.faults.delete_all",
            "Remove every fault rule",
            "behaviour.md section 13.2.",
        )
        .response("200", ok(schema_ref::<wire::ErrorBody>())),
    );
    doc.route(
        HttpMethod::Delete,
        "/admin/faults/{id}",
        control_op(
            "admin.faults.delete",
            "Remove a fault rule",
            "behaviour.md section 13.2; an unknown id answers 404, 40097.",
        )
        .parameter(path_param("id", integer(Some(1), None, "The rule's id.")))
        .response("200", ok(schema_ref::<wire::ErrorBody>())),
    );
    let fault_note = doc.schema(
        "FaultNote",
        object("The rule that fired on the request.")
            .required_field("id", integer(Some(1), None, ""))
            .required_field("when", enum_strings(&["before", "after"], ""))
            .required_field("errcode", nullable(integer(None, None, "")))
            .required_field("delay_ms", integer(Some(0), None, ""))
            .required_field("drop_connection", boolean(""))
            .required_field(
                "replaced_answer",
                nullable(string("What an `after` fault kept from the client.")),
            ),
    );
    let entry = doc.schema(
        "RequestLogEntry",
        object("A request as received and answered, secrets masked (behaviour.md section 13.3).")
            .required_field("id", string("The request id (the ` rid: ` of its errmsg)."))
            .required_field(
                "time_ms",
                integer(None, None, "When it arrived (UNIX ms, server clock)."),
            )
            .required_field("method", string(""))
            .required_field("path", string(""))
            .required_field(
                "query",
                string("The access token cut to 6 characters, `secret` masked."),
            )
            .required_field("body", string("As received, secrets masked."))
            .required_field(
                "status",
                nullable(integer(Some(100), Some(599), "null when the connection was dropped.")),
            )
            .required_field("answer", string("Empty when the connection was dropped."))
            .required_field("errcode", nullable(integer(None, None, "")))
            .required_field("latency_us", integer(Some(0), None, ""))
            .required_field("dialect", enum_strings(&dialects, ""))
            .required_field("appid", nullable(string("")))
            .required_field("openid", nullable(string("")))
            .required_field(
                "diagnosis",
                nullable_ref(schema_ref::<diagnose::Diagnosis>(), "For a failed signature."),
            )
            .required_field("fault", nullable_ref(fault_note, "")),
    );
    let requests = doc.schema(
        "RequestLogList",
        ok_object("Entries, oldest first.").required_field("items", ArrayBuilder::new().items(entry.clone())),
    );
    let request = doc.schema(
        "RequestLogItem",
        ok_object("One entry.").required_field("request", entry),
    );
    doc.route(
        HttpMethod::Get,
        "/admin/requests",
        control_op(
            "admin.requests.list",
            "List the request log",
            "behaviour.md section 13.3.",
        )
        .parameter(query_param("appid", false, id("")))
        .parameter(query_param("openid", false, id("")))
        .parameter(query_param("errcode", false, integer(None, None, "")))
        .parameter(query_param("after_id", false, string("The last request id seen.")))
        .parameter(query_param(
            "limit",
            false,
            integer(Some(1), Some(1000), "Default 100."),
        ))
        .parameter(query_param(
            "last",
            false,
            integer(Some(1), Some(1000), "The newest N (without `after_id` and `limit`)."),
        ))
        .response("200", ok(requests)),
    );
    doc.route(
        HttpMethod::Get,
        "/admin/requests/{id}",
        control_op(
            "admin.requests.get",
            "One request log entry",
            "behaviour.md section 13.3; an unknown id answers 404, 40097.",
        )
        .parameter(path_param("id", string("The request id.")))
        .response("200", ok(request)),
    );
    let reset = doc.schema(
        "ResetRequest",
        object("What to empty (behaviour.md section 13.4).")
            .optional_field("appid", id("Only this app's; else every app's."))
            .optional_field("keep_apps", boolean("Keep the app(s) themselves. Default true.")),
    );
    doc.route(
        HttpMethod::Post,
        "/admin/reset",
        control_op(
            "admin.reset",
            "Reset the state",
            "behaviour.md section 13.4; the clock and fault rules are left alone.",
        )
        .request_body(Some(json_body(reset)))
        .response("200", ok(schema_ref::<wire::ErrorBody>())),
    );
    let rows =
        || ArrayBuilder::new().items(ObjectBuilder::new().description(Some("A row: every column, in key order.")));
    let state = doc.schema(
        "StateDocument",
        object(
            "The whole state, secrets included, without an errcode wrapper (behaviour.md section 13.4). Export, \
             reset, import, export gives the same document.",
        )
        .required_field("version", integer(Some(1), None, "The document's version."))
        .required_field("apps", rows())
        .required_field("tokens", rows())
        .required_field("codes", rows())
        .required_field("sessions", rows())
        .required_field("accounts", rows())
        .required_field("orders", rows())
        .required_field("journal", rows())
        .optional_field("pushes", rows()),
    );
    doc.route(
        HttpMethod::Get,
        "/admin/state",
        control_op("admin.state.export", "Export the state", "behaviour.md section 13.4.")
            .response("200", ok(state.clone())),
    );
    doc.route(
        HttpMethod::Post,
        "/admin/state",
        control_op(
            "admin.state.import",
            "Replace the state",
            "behaviour.md section 13.4: in one transaction; a document that is not valid answers 40097 and changes \
             nothing.",
        )
        .request_body(Some(json_body(state)))
        .response("200", ok(schema_ref::<wire::ErrorBody>())),
    );
}

// --- Operating it ---------------------------------------------------------------------------

fn operating_routes(doc: &mut Doc) {
    let health = doc.schema(
        "Health",
        object("The server takes requests.").required_field("status", enum_strings(&["ok"], "")),
    );
    doc.route(
        HttpMethod::Get,
        "/healthz",
        OperationBuilder::new()
            .tag(TAG_OPERATING)
            .operation_id(Some("healthz"))
            .summary(Some("Health check"))
            .description(Some("behaviour.md section 14: 200 once the server takes requests."))
            .response(
                "200",
                ResponseBuilder::new()
                    .description("Up.")
                    .content("application/json", json_content(health)),
            ),
    );
    doc.route(
        HttpMethod::Get,
        "/metrics",
        OperationBuilder::new()
            .tag(TAG_OPERATING)
            .operation_id(Some("metrics"))
            .summary(Some("Prometheus metrics"))
            .description(Some(
                "behaviour.md section 14: requests by dialect, path (the route's literal path) and errcode, \
                 latency histograms, write batches and queue depth, commit latency, push deliveries by outcome.",
            ))
            .response(
                "200",
                ResponseBuilder::new()
                    .description("The Prometheus text format.")
                    .content("text/plain; version=0.0.4", Content::new(Some(string("")))),
            )
            .response("default", error_ref()),
    );
    doc.route(
        HttpMethod::Get,
        "/openapi.json",
        OperationBuilder::new()
            .tag(TAG_OPERATING)
            .operation_id(Some("openapi"))
            .summary(Some("This document"))
            .description(Some(
                "behaviour.md section 14: the OpenAPI 3.1 document of every route.",
            ))
            .response(
                "200",
                ResponseBuilder::new()
                    .description("The OpenAPI document.")
                    .content("application/json", Content::new(Some(ObjectBuilder::new()))),
            ),
    );
    doc.route(
        HttpMethod::Get,
        "/xpay/bills/{token}",
        OperationBuilder::new()
            .tag(TAG_XPAY)
            .operation_id(Some("xpay.bills"))
            .summary(Some("A bill from download_bill"))
            .description(Some(
                "behaviour.md section 10.2: the link `download_bill` answers, valid for 30 minutes of the server's \
                 clock; it needs no other credential. A dead or unknown link answers 404 with 268490002.",
            ))
            .parameter(path_param("token", string("The link's token.")))
            .response(
                "200",
                ResponseBuilder::new()
                    .description(
                        "CSV: a header row `order_id,wx_order_id,order_type,status,openid,product_id,order_fee,\
                         paid_fee,refund_fee,create_time,paid_time,provide_time,pay_order_id`, then one row per \
                         purchase and refund, oldest first.",
                    )
                    .content("text/csv; charset=utf-8", Content::new(Some(string("")))),
            )
            .response("404", error_ref()),
    );
}

// --- The dashboard --------------------------------------------------------------------------

/// The dashboard's routes (`ui::routes`): method, path, emulator mode only, what it is. Pages
/// answer HTML; forms post `application/x-www-form-urlencoded` and answer a redirect (303) or
/// the page again with the problem.
const UI_ROUTES: &[(UiMethod, &str, bool, &str)] = &[
    (UiMethod::Page, "/ui", false, "The dashboard's home: the apps."),
    (UiMethod::Redirect, "/ui/", false, "Redirects to `/ui`."),
    (
        UiMethod::Page,
        "/ui/login",
        false,
        "The login page (`?once=` takes a one-time link of `POST /admin/ui/login-links`).",
    ),
    (
        UiMethod::Form,
        "/ui/login",
        false,
        "Log in with the admin token (`token`): sets the session cookie.",
    ),
    (UiMethod::Form, "/ui/logout", false, "Log out."),
    (
        UiMethod::Asset("text/css; charset=utf-8"),
        "/ui/assets/ui.css",
        false,
        "The stylesheet.",
    ),
    (
        UiMethod::Asset("text/javascript; charset=utf-8"),
        "/ui/assets/ui.js",
        false,
        "The script.",
    ),
    (UiMethod::Page, "/ui/search", false, "Search apps and players."),
    (UiMethod::Page, "/ui/apps", false, "The apps."),
    (UiMethod::Form, "/ui/apps", false, "Create or update an app."),
    (UiMethod::Page, "/ui/apps/new", false, "The form of a new app."),
    (UiMethod::Page, "/ui/apps/{appid}", false, "An app's settings."),
    (
        UiMethod::Page,
        "/ui/apps/{appid}/players",
        false,
        "An app's players and balances.",
    ),
    (
        UiMethod::Page,
        "/ui/apps/{appid}/purchases",
        false,
        "An app's purchases.",
    ),
    (
        UiMethod::Page,
        "/ui/account",
        false,
        "One account: balances, orders, the journal.",
    ),
    (UiMethod::Page, "/ui/pushes", false, "The push events."),
    (
        UiMethod::Form,
        "/ui/pushes/{id}/redeliver",
        false,
        "Deliver an event now.",
    ),
    (
        UiMethod::Page,
        "/ui/requests",
        true,
        "The request log, with signature diagnoses.",
    ),
    (
        UiMethod::Page,
        "/ui/requests/rows",
        true,
        "The request log's newest rows (an HTML fragment, for the live refresh).",
    ),
    (UiMethod::Page, "/ui/requests/{id}", true, "One request."),
    (UiMethod::Page, "/ui/faults", true, "The fault rules."),
    (UiMethod::Form, "/ui/faults", true, "Add a fault rule."),
    (UiMethod::Form, "/ui/faults/{id}/delete", true, "Remove a fault rule."),
    (UiMethod::Page, "/ui/clock", true, "The clock."),
    (UiMethod::Form, "/ui/clock", true, "Move, freeze or reset the clock."),
];

/// What a dashboard route is.
#[derive(Clone, Copy)]
enum UiMethod {
    /// GET, an HTML page (a redirect to `/ui/login` without a session).
    Page,
    /// GET, a redirect.
    Redirect,
    /// GET, a static file of this content type.
    Asset(&'static str),
    /// POST, a form.
    Form,
}

fn ui_routes(doc: &mut Doc) {
    let form = doc.schema(
        "ui.Form",
        object("A dashboard form's fields, each a string; a form that changes state carries `csrf`.")
            .additional_properties(Some(string(""))),
    );
    let html = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content("text/html; charset=utf-8", Content::new(Some(string(""))))
            .build()
    };
    let redirect = |description: &str| ResponseBuilder::new().description(description).build();
    for &(kind, path, emulator, what) in UI_ROUTES {
        let (method, verb) = match kind {
            UiMethod::Form => (HttpMethod::Post, "post"),
            _ => (HttpMethod::Get, "get"),
        };
        let mut operation = OperationBuilder::new()
            .tag(TAG_UI)
            .operation_id(Some(format!("{}.{verb}", operation_id(path))))
            .summary(Some(what));
        if path != "/ui/login" && !path.starts_with("/ui/assets/") && path != "/ui/" {
            operation = operation.security(SecurityRequirement::new(UI_SESSION, Vec::<String>::new()));
        }
        for name in path
            .split('/')
            .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
        {
            operation = operation.parameter(path_param(name, string("")));
        }
        operation = match kind {
            UiMethod::Page => operation
                .response("200", html("An HTML page."))
                .response("303", redirect("To `/ui/login`, without a session.")),
            UiMethod::Redirect => operation.response("303", redirect("To `/ui`.")),
            UiMethod::Asset(content_type) => operation.response(
                "200",
                ResponseBuilder::new()
                    .description("The file, embedded in the binary.")
                    .content(content_type, Content::new(Some(string(""))))
                    .build(),
            ),
            UiMethod::Form => operation
                .request_body(Some(
                    RequestBodyBuilder::new()
                        .required(Some(Required::True))
                        .content("application/x-www-form-urlencoded", Content::new(Some(form.clone())))
                        .build(),
                ))
                .response("303", redirect("Done: to the page that shows the result."))
                .response("default", html("The page again, with the problem (4xx).")),
        };
        if emulator {
            operation = operation.description(Some("Emulator mode only.")).extensions(Some(
                ExtensionsBuilder::new().add("x-openmidas-mode", "emulator").build(),
            ));
        }
        doc.route(method, path, operation);
    }
    let link = doc.schema(
        "ui.LoginLink",
        ok_object("A login path valid once for 60 s.")
            .required_field("path", string("`/ui/login?once=<nonce>`."))
            .required_field("expires_in", integer(Some(0), None, "Seconds.")),
    );
    doc.route(
        HttpMethod::Post,
        "/admin/ui/login-links",
        admin_op(
            TAG_UI,
            "admin.ui.login-links",
            "A one-time dashboard login link",
            "behaviour.md section 14: for opening the dashboard without typing the admin token.",
        )
        .response("200", ok(link)),
    );
}

// --- Tags and errcode tables ----------------------------------------------------------------

fn tags() -> Vec<utoipa::openapi::Tag> {
    let platform = errcode_table(common::Code::ALL);
    [
        (
            TAG_V1,
            format!(
                "Midas v1: `/cgi-bin/midas/*` (official) and `/cgi-bin/midas/sandbox/*` (behaviour.md section 3). \
                 Errcodes (HTTP 200 unless stated):\n\n{}\n\nand the platform's (tag `tokens`).",
                errcode_table(v1::Code::ALL)
            ),
        ),
        (
            TAG_V2,
            format!(
                "Virtual payment 2.0: `/wxa/game/*` (behaviour.md section 9). Errcodes (HTTP 200 unless \
                 stated):\n\n{}\n\nand the platform's (tag `tokens`).",
                errcode_table(v2::Code::ALL)
            ),
        ),
        (
            TAG_XPAY,
            format!(
                "Mini-program virtual payment: `/xpay/*` (behaviour.md section 10). Errcodes (HTTP 200 unless \
                 stated):\n\n{}\n\nand the platform's (tag `tokens`).",
                errcode_table(xpay::Code::ALL)
            ),
        ),
        (
            TAG_TOKENS,
            format!(
                "Access tokens and sessions (behaviour.md section 2), and the platform's errcodes, which every \
                 route may answer:\n\n{platform}"
            ),
        ),
        (
            TAG_ADMIN,
            "Administration (behaviour.md section 6): admin token, both modes.".to_string(),
        ),
        (
            TAG_CLIENT,
            "The simulated player (behaviour.md sections 6.2 and 11): admin token, both modes.".to_string(),
        ),
        (
            TAG_PUSHES,
            "Push events (behaviour.md section 12.4): admin token, both modes.".to_string(),
        ),
        (
            TAG_CONTROLS,
            "Emulator controls (behaviour.md section 13): emulator mode only (`x-openmidas-mode: emulator`); in \
             ledger mode every one answers 404, 40066. Admin token."
                .to_string(),
        ),
        (
            TAG_OPERATING,
            "Operating the server (behaviour.md section 14).".to_string(),
        ),
        (
            TAG_UI,
            "The dashboard (behaviour.md section 14): HTML pages behind a login that takes the admin token; \
             the emulator pages (`x-openmidas-mode: emulator`) in emulator mode only."
                .to_string(),
        ),
    ]
    .into_iter()
    .map(|(name, description)| TagBuilder::new().name(name).description(Some(description)).build())
    .collect()
}

/// An errcode table in markdown: errcode, HTTP status, default errmsg, meaning.
fn errcode_table<C: ErrorCode>(codes: &[C]) -> String {
    let mut table = String::from("| errcode | HTTP | errmsg | meaning |\n|---|---|---|---|\n");
    for code in codes {
        let _ = writeln!(
            table,
            "| {} | {} | {} | {} |",
            code.code(),
            code.http_status(),
            code.errmsg().replace('|', "\\|"),
            code.meaning().replace('|', "\\|")
        );
    }
    table.trim_end().to_string()
}

// --- Building blocks ------------------------------------------------------------------------

/// The schemas that come from the protocol's types.
fn typed_schemas(components: ComponentsBuilder) -> ComponentsBuilder {
    components
        .schema_from::<wire::ErrorBody>()
        .schema_from::<wire::AccessTokenOk>()
        .schema_from::<wire::Jscode2SessionOk>()
        .schema_from::<wire::AdminLoginOk>()
        .schema_from::<v1::answer::GetBalanceOk>()
        .schema_from::<v1::answer::PayOk>()
        .schema_from::<v1::answer::CancelPayOk>()
        .schema_from::<v1::answer::PresentOk>()
        .schema_from::<v2::answer::GetBalanceOk>()
        .schema_from::<v2::answer::PayOk>()
        .schema_from::<v2::answer::CancelPayOk>()
        .schema_from::<v2::answer::PresentOk>()
        .schema_from::<v2::answer::QueryOrderInfoOk>()
        .schema_from::<xpay::answer::QueryUserBalanceOk>()
        .schema_from::<xpay::answer::CurrencyPayOk>()
        .schema_from::<xpay::answer::CancelCurrencyPayOk>()
        .schema_from::<xpay::answer::PresentCurrencyOk>()
        .schema_from::<xpay::answer::QueryOrderOk>()
        .schema_from::<xpay::answer::Order>()
        .schema_from::<xpay::answer::RefundOrderOk>()
        .schema_from::<xpay::answer::NotifyProvideGoodsOk>()
        .schema_from::<xpay::answer::DownloadBillOk>()
        .schema_from::<diagnose::Diagnosis>()
}

fn schema_ref<T: ToSchema>() -> RefOr<Schema> {
    Ref::from_schema_name(T::name()).into()
}

fn error_ref() -> RefOr<utoipa::openapi::Response> {
    Ref::from_response_name("Error").into()
}

fn json_content(schema: impl Into<RefOr<Schema>>) -> Content {
    Content::new(Some(schema))
}

fn json_body(schema: RefOr<Schema>) -> utoipa::openapi::request_body::RequestBody {
    RequestBodyBuilder::new()
        .required(Some(Required::True))
        .content("application/json", json_content(schema))
        .build()
}

/// A WeChat route's HTTP 200: the success answer, or `{errcode, errmsg}` (WeChat answers most
/// failures with HTTP 200).
fn wechat_answer(success: RefOr<Schema>) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description("The success answer (errcode 0 where it has one), or a failure `{errcode, errmsg}`.")
        .content(
            "application/json",
            json_content(AnyOfBuilder::new().item(success).item(schema_ref::<wire::ErrorBody>())),
        )
        .build()
}

/// An admin route's HTTP 200: the answer, or a failure `{errcode, errmsg}`.
fn ok(success: RefOr<Schema>) -> utoipa::openapi::Response {
    wechat_answer(success)
}

fn admin_op(tag: &str, id: &str, summary: &str, description: &str) -> OperationBuilder {
    OperationBuilder::new()
        .tag(tag)
        .operation_id(Some(id))
        .summary(Some(summary))
        .description(Some(description))
        .security(SecurityRequirement::new(ADMIN_TOKEN, Vec::<String>::new()))
        .response("401", error_ref())
        .response("default", error_ref())
}

fn control_op(id: &str, summary: &str, description: &str) -> OperationBuilder {
    admin_op(TAG_CONTROLS, id, summary, &format!("Emulator mode only. {description}")).extensions(Some(
        ExtensionsBuilder::new().add("x-openmidas-mode", "emulator").build(),
    ))
}

fn page_params() -> Vec<utoipa::openapi::path::Parameter> {
    vec![
        query_param("after_id", false, integer(Some(0), None, "The last id seen.")),
        query_param("limit", false, integer(Some(1), Some(1000), "Default 100.")),
    ]
}

fn query_param(name: &str, required: bool, schema: impl Into<RefOr<Schema>>) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(if required { Required::True } else { Required::False })
        .schema(Some(schema))
        .build()
}

fn path_param(name: &str, schema: impl Into<RefOr<Schema>>) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .schema(Some(schema))
        .build()
}

/// An object schema; [`Fields`] adds its properties.
fn object(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(description))
}

/// An admin answer: `{errcode: 0, errmsg: "ok", ...}`.
fn ok_object(description: &str) -> ObjectBuilder {
    object(description)
        .required_field("errcode", enum_integers(&[0], ""))
        .required_field("errmsg", enum_strings(&["ok"], ""))
}

trait Fields {
    fn required_field(self, name: &str, schema: impl Into<RefOr<Schema>>) -> Self;
    fn optional_field(self, name: &str, schema: impl Into<RefOr<Schema>>) -> Self;
}

impl Fields for ObjectBuilder {
    fn required_field(self, name: &str, schema: impl Into<RefOr<Schema>>) -> Self {
        self.property(name, schema).required(name)
    }

    fn optional_field(self, name: &str, schema: impl Into<RefOr<Schema>>) -> Self {
        self.property(name, schema)
    }
}

fn described(builder: ObjectBuilder, description: &str) -> ObjectBuilder {
    if description.is_empty() {
        builder
    } else {
        builder.description(Some(description))
    }
}

fn string(description: &str) -> ObjectBuilder {
    described(ObjectBuilder::new().schema_type(Type::String), description)
}

/// A string of `min..=max` bytes (maxLength counts characters: a bound the byte limit implies).
fn bytes(min: usize, max: usize, description: &str) -> ObjectBuilder {
    let rule = if min == 0 {
        format!("at most {max} bytes")
    } else {
        format!("{min} to {max} bytes")
    };
    let text = match description.strip_suffix('.') {
        _ if description.is_empty() => rule,
        Some(sentence) => format!("{sentence} ({rule})."),
        None => format!("{description} ({rule})"),
    };
    string(&text).min_length((min > 0).then_some(min)).max_length(Some(max))
}

fn id(description: &str) -> ObjectBuilder {
    bytes(1, MAX_ID_BYTES, description)
}

fn string_pattern(pattern: &str, description: &str) -> ObjectBuilder {
    string(description).pattern(Some(pattern))
}

fn hex_signature(description: &str) -> ObjectBuilder {
    string_pattern("^[0-9A-Fa-f]{64}$", description)
}

fn v1_bill_no(description: &str) -> ObjectBuilder {
    string_pattern(
        &format!("^[0-9A-Za-z_|*@-]{{1,{MAX_BILL_NO_CHARS}}}$"),
        &format!("{description} v1's rule: 1 to {MAX_BILL_NO_CHARS} of `0-9 A-Z a-z _ - | * @`."),
    )
}

fn v2_bill_no(description: &str) -> ObjectBuilder {
    string_pattern(
        &format!("^[0-9A-Za-z-][0-9A-Za-z_-]{{0,{}}}$", MAX_BILL_NO_CHARS - 1),
        &format!(
            "{description} 2.0's rule: 1 to {MAX_BILL_NO_CHARS} of `0-9 A-Z a-z _ -`, not starting with `_` \
             (v1's rule when the app's `bill_no_charset` is `v1`)."
        ),
    )
}

fn xpay_order_id(description: &str) -> ObjectBuilder {
    let (min, max) = (xpay::request::MIN_ORDER_ID_CHARS, xpay::request::MAX_ORDER_ID_CHARS);
    string_pattern(
        &format!("^[0-9A-Za-z|*@-][0-9A-Za-z_|*@-]{{{},{}}}$", min - 1, max - 1),
        &format!("{description} {min} to {max} of `0-9 A-Z a-z _ - | * @`, not starting with `_`."),
    )
}

fn integer(min: Option<i64>, max: Option<i64>, description: &str) -> ObjectBuilder {
    described(
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(min)
            .maximum(max),
        description,
    )
}

fn amount(description: &str) -> ObjectBuilder {
    integer(Some(1), Some(MAX_AMOUNT), description)
}

fn number(min: f64, max: f64, description: &str) -> ObjectBuilder {
    described(
        ObjectBuilder::new()
            .schema_type(Type::Number)
            .minimum(Some(min))
            .maximum(Some(max)),
        description,
    )
}

fn boolean(description: &str) -> ObjectBuilder {
    described(ObjectBuilder::new().schema_type(Type::Boolean), description)
}

fn enum_strings(values: &[&str], description: &str) -> ObjectBuilder {
    string(description).enum_values(Some(values.iter().copied()))
}

fn enum_integers(values: &[i64], description: &str) -> ObjectBuilder {
    integer(None, None, description).enum_values(Some(values.iter().copied()))
}

fn enum_bools(values: &[bool], description: &str) -> ObjectBuilder {
    boolean(description).enum_values(Some(values.iter().copied()))
}

fn env_flag() -> ObjectBuilder {
    enum_integers(&[0, 1], "0 official, 1 sandbox.")
}

/// The same schema, or `null`.
fn nullable(builder: ObjectBuilder) -> ObjectBuilder {
    let schema = builder.build();
    let types = match &schema.schema_type {
        SchemaType::Type(t) => SchemaType::Array(vec![t.clone(), Type::Null]),
        other => other.clone(),
    };
    ObjectBuilder::from(schema).schema_type(types)
}

/// A reference, or `null`.
fn nullable_ref(schema: RefOr<Schema>, description: &str) -> Schema {
    let builder = OneOfBuilder::new()
        .item(schema)
        .item(ObjectBuilder::new().schema_type(Type::Null));
    if description.is_empty() {
        builder.into()
    } else {
        builder.description(Some(description)).into()
    }
}
