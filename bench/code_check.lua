-- wrk script: POST /api/v1/signin/code with a wrong code, cycling over the
-- prepared sign-in attempts so each gets at most 4 tries (never exhausted:
-- every request runs the full check — challenge lookup, both apps' TOTP
-- window, the atomic attempt decrement and the audit event).
local challenges = {}
for line in io.lines(os.getenv("CHALLENGES")) do challenges[#challenges + 1] = line end
local i = 0
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
request = function()
  i = i + 1
  local c = challenges[(i % #challenges) + 1]
  return wrk.format(nil, "/api/v1/signin/code", nil, '{"challenge":"' .. c .. '","code":"000000"}')
end
