-- bench/programs/lua.lua — the `lua` program workload (bench/programs/lua.sh):
-- table and string churn.  The Lua interpreter allocates every table,
-- string and closure with realloc/free (its default allocator).
--
--     lua5.4 lua.lua SCALE
--
-- Each round builds records (tables of strings, arrays and numbers),
-- groups, sorts, concatenates, splits and substitutes them, keeps a slowly
-- replaced cache alive across rounds and drops the rest.  Lua randomises
-- its string hashes, so the traversal order of pairs() may change from run
-- to run: everything printed is computed from sorted keys or arrays only.
local scale = tonumber(arg[1] or "1")
local rounds = math.max(1, math.floor(12 * scale + 0.5))

local x = 24680
local function below(n)
  x = (x * 48271) % 2147483647
  return x * n // 2147483647
end

local syl = { "ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "ve", "zu", "ba", "ek" }
local function name(n)
  local t = {}
  for i = 1, n do t[i] = syl[below(#syl) + 1] end
  return table.concat(t)
end

local MOD = 1000000007
local h = 0
local function fold(s)
  for i = 1, #s do h = (h * 131 + s:byte(i)) % MOD end
end

local function sorted_keys(t)
  local k = {}
  for key in pairs(t) do k[#k + 1] = key end
  table.sort(k)
  return k
end

local cache = {}
for r = 1, rounds do
  local recs, groups, count = {}, {}, {}
  for i = 1, 6000 do
    local k = name(2 + below(4))
    local tags = {}
    for j = 1, below(6) do tags[j] = name(1 + below(2)) end
    local rec = { id = r * 6000 + i, name = k, tags = tags, score = below(100000) / 7 }
    if below(4) == 0 then rec.note = string.rep(k .. "-" .. i .. " ", 1 + below(20)) end
    recs[#recs + 1] = rec
    local g = k:sub(1, 2)
    groups[g] = groups[g] or {}
    table.insert(groups[g], rec)
    for _, t in ipairs(tags) do count[t] = (count[t] or 0) + 1 end
  end
  for _, g in ipairs(sorted_keys(groups)) do
    local s = groups[g]
    table.sort(s, function(a, b)
      if a.score ~= b.score then return a.score < b.score end
      return a.id < b.id
    end)
    fold(string.format("%s %d %.3f", g, #s, s[1].score))
  end
  local parts = {}
  for i, rec in ipairs(recs) do parts[i] = rec.name .. "=" .. table.concat(rec.tags, ",") end
  local text = table.concat(parts, " ")
  local rebuilt = {}
  for w in text:gmatch("%S+") do
    local a, b = w:match("^([^=]*)=(.*)$")
    rebuilt[#rebuilt + 1] = a:upper() .. ":" .. b:gsub(",", "|")
  end
  local rs = table.concat(rebuilt, ";")
  fold(rs:sub(-200))
  h = (h * 31 + #rs) % MOD
  local words = 0
  for _, rec in ipairs(recs) do
    if rec.note then
      local w, n = {}, 0
      for s in rec.note:gmatch("%S+") do
        if not w[s] then w[s] = true; n = n + 1 end
      end
      words = words + n
    end
  end
  local sum = 0
  for _, t in ipairs(sorted_keys(count)) do sum = sum + count[t] * #t end
  h = (h * 31 + sum + words) % MOD
  for i = 1, #recs, 5 do
    local slot = below(4000) + 1
    if slot <= #cache then cache[slot] = recs[i] else cache[#cache + 1] = recs[i] end
  end
  local t = 0
  for _, c in ipairs(cache) do t = t + #c.tags end
  h = (h * 31 + t) % MOD
end
print(string.format("rounds %d cache %d hash %d", rounds, #cache, h))
