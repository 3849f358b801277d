/**
 * The Hyperliquid response types the loopback server is checked against: @nktkas/hyperliquid's own (the
 * library's types follow the live API; its maintainers check them against real answers). Turned into JSON
 * schemas by loopback-schemas.ts.
 */
export type {
  BatchModifyResponse,
  CancelResponse,
  ModifyResponse,
  NoopResponse,
  OrderResponse,
  ScheduleCancelResponse,
  UpdateLeverageResponse,
} from '@nktkas/hyperliquid/api/exchange';
export type {
  AllMidsResponse,
  CandleSnapshotResponse,
  ClearinghouseStateResponse,
  FrontendOpenOrdersResponse,
  FundingHistoryResponse,
  HistoricalOrdersResponse,
  L2BookResponse,
  MetaAndAssetCtxsResponse,
  MetaResponse,
  OpenOrdersResponse,
  OrderStatusResponse,
  PerpDexsResponse,
  PredictedFundingsResponse,
  SpotClearinghouseStateResponse,
  SpotMetaAndAssetCtxsResponse,
  SpotMetaResponse,
  UserFeesResponse,
  UserFillsByTimeResponse,
  UserFillsResponse,
  UserFundingResponse,
  UserRateLimitResponse,
} from '@nktkas/hyperliquid/api/info';
export type {
  OrderUpdatesEvent,
  UserFillsEvent,
  UserFundingsEvent,
} from '@nktkas/hyperliquid/api/subscription';

/** The exchange's whole-request refusal (HTTP 200): what the library's ApiRequestError wraps. */
export type TopLevelErrorResponse = { status: 'err'; response: string };
