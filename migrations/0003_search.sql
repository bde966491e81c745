-- Migration number: 0003 	 the service list
--
-- `GET /v1/services` counts spans per service and finds each one's latest span from this
-- index alone, without reading the span rows. New spans land at the end of their
-- service's range, so keeping it up to date costs little.

CREATE INDEX spans_by_service ON spans (service_name, end_ns);
