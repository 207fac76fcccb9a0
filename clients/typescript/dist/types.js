// The protocol's requests and answers, as docs/schema/ringd.schema.json
// describes them. Request types hold the fields a caller sets; `req` and
// `length` are added by the client.
export {};
