-- mlc_capture: SageMaker data capture in the router nginx (ml_lifecycle.compute.local.endpoints.capture_config
-- renders its settings into nginx.conf; docs: README "Data capture").
--
-- Per request (in the worker, after the response went out): a sampling draw, the response body kept as it streams
-- (body filter), and in the log phase one JSON line in SageMaker's capture format appended to a table in memory.
-- A timer writes the table every flush_interval_s to <root>/<yyyy>/<mm>/<dd>/<hh>/<mm-ss-mmm>-<worker id>.jsonl
-- (the hour of each record's inferenceTime), so no request waits on a disk; a worker that exits (reload, stop)
-- writes what it holds first. A write that fails, or a backlog over max_pending_bytes, loses those records: they
-- are counted (shared dict, written to stats_file), never turned into a failed request.
--
-- With seal_after_s set (a destination an uploader moves the files to, e.g. S3), a file is written as
-- <name>.jsonl.part and renamed <name>.jsonl once it is seal_after_s old or its worker exits: a sealed file is never
-- written again, so the uploader takes those only and each record reaches the destination once.
local ffi = require("ffi")

ffi.cdef([[
int mkdir(const char *pathname, unsigned int mode);
int chmod(const char *pathname, unsigned int mode);
char *strerror(int errnum);
]])
local EEXIST = 17
local FOLDER_MODE = 493 -- 0755
local SHARED_FOLDER_MODE = 511 -- 0777: in seal mode the uploader, another user, removes the files it uploaded

local M = {}

local settings = nil
local pending = {} -- hour folder ("2026/12/07/14") -> array of lines
local pending_lines = 0
local pending_bytes = 0
local files = {} -- hour folder -> this worker's file in it
local opened_at = {} -- hour folder -> when this worker started its file there (seal mode)
local PART = ".part"
local made = {} -- folders known to exist
local worker_tag = ""

local ESCAPES = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
for byte = 0, 31 do
    local char = string.char(byte)
    if ESCAPES[char] == nil then
        ESCAPES[char] = string.format("\\u%04x", byte)
    end
end
ESCAPES[string.char(127)] = "\\u007f"

local function quoted(text)
    if not string.find(text, '[%c"\\]') then
        return '"' .. text .. '"' -- most bodies: nothing to escape, no copy made by gsub
    end
    return '"' .. (string.gsub(text, '[%c"\\]', ESCAPES)) .. '"'
end

-- inferenceTime and the hour folder of the second a request came in, formatted once per second.
local time_second, time_text, time_hour = -1, "", ""
local function times_of(second)
    if second ~= time_second then
        time_second = second
        time_text = os.date("!%Y-%m-%dT%H:%M:%SZ", second)
        time_hour = os.date("!%Y/%m/%d/%H", second)
    end
    return time_text, time_hour
end

local function encoding_of(content_type)
    local media_type = string.match(content_type, "^%s*([^;%s]+)")
    media_type = media_type and string.lower(media_type) or ""
    if settings.csv[media_type] then
        return "CSV"
    end
    if settings.json[media_type] then
        return "JSON"
    end
    return "BASE64"
end

-- RFC 3629's well-formed sequences: lead bytes (first - last), the sequence's length, and the range of its second
-- byte (which rules out overlongs, surrogates and anything past U+10FFFF); later bytes are 80-BF.
local UTF8_LEADS = {
    { 0xC2, 0xDF, 2, 0x80, 0xBF },
    { 0xE0, 0xE0, 3, 0xA0, 0xBF },
    { 0xE1, 0xEC, 3, 0x80, 0xBF },
    { 0xED, 0xED, 3, 0x80, 0x9F },
    { 0xEE, 0xEF, 3, 0x80, 0xBF },
    { 0xF0, 0xF0, 4, 0x90, 0xBF },
    { 0xF1, 0xF3, 4, 0x80, 0xBF },
    { 0xF4, 0xF4, 4, 0x80, 0x8F },
}

-- The length of the well-formed sequence starting at i, or nil.
local function sequence_at(text, i)
    local c = string.byte(text, i)
    if c < 0x80 then
        return 1
    end
    for _, lead in ipairs(UTF8_LEADS) do
        if c >= lead[1] and c <= lead[2] then
            for k = 1, lead[3] - 1 do
                local byte = string.byte(text, i + k)
                local low, high = (k == 1) and lead[4] or 0x80, (k == 1) and lead[5] or 0xBF
                if byte == nil or byte < low or byte > high then
                    return nil
                end
            end
            return lead[3]
        end
    end
    return nil
end

-- Whether text is valid UTF-8 (ASCII text is seen at once).
local function is_utf8(text)
    if not string.find(text, "[\128-\255]") then
        return true
    end
    local i, n = 1, #text
    while i <= n do
        local width = sequence_at(text, i)
        if width == nil then
            return false
        end
        i = i + width
    end
    return true
end

-- The encoding of a captured body and its text: the listed CSV and JSON types as text when they are UTF-8 (a
-- JSON line must be), anything else base64.
function M.encoded(content_type, data)
    local encoding = encoding_of(content_type)
    if encoding == "BASE64" or not is_utf8(data) then
        return "BASE64", ngx.encode_base64(data)
    end
    return encoding, data
end

local function side(mode, content_type, data)
    content_type = content_type or ""
    local encoding, text = M.encoded(content_type, data)
    return '{"observedContentType":' .. quoted(content_type) .. ',"mode":"' .. mode .. '","data":' .. quoted(text)
        .. ',"encoding":"' .. encoding .. '"}'
end

local function request_body()
    local data = ngx.req.get_body_data()
    if data then
        return data
    end
    local path = ngx.req.get_body_file()
    if not path then
        return ""
    end
    local file = io.open(path, "rb")
    if not file then
        return ""
    end
    data = file:read("*a") or ""
    file:close()
    return data
end

-- A version 4 UUID from nginx's $request_id (32 random hex digits per request).
local VARIANT = { "8", "9", "a", "b" }
local function event_id()
    local id = ngx.var.request_id
    local variant = VARIANT[(tonumber(string.sub(id, 17, 17), 16) % 4) + 1]
    return string.sub(id, 1, 8) .. "-" .. string.sub(id, 9, 12) .. "-4" .. string.sub(id, 14, 16) .. "-" .. variant
        .. string.sub(id, 18, 20) .. "-" .. string.sub(id, 21, 32)
end

local function lose(count, reason)
    local stats = ngx.shared.mlc_capture
    stats:incr("lost", count, 0)
    stats:set("last_error", reason)
end

-- Make a folder and its parents; return nil, or what failed.
local function make_folders(folder)
    if made[folder] then
        return nil
    end
    local path = ""
    for part in string.gmatch(folder, "[^/]+") do
        path = path .. "/" .. part
        if ffi.C.mkdir(path, FOLDER_MODE) ~= 0 then
            local errno = ffi.errno()
            if errno ~= EEXIST then
                return "cannot make " .. path .. ": " .. ffi.string(ffi.C.strerror(errno))
            end
        elseif settings.seal_after_s then
            ffi.C.chmod(path, SHARED_FOLDER_MODE)
        end
    end
    made[folder] = true
    return nil
end

local function write_stats()
    local stats = ngx.shared.mlc_capture
    local text = string.format(
        '{"captured": %d, "lost": %d, "last_error": %s}\n',
        stats:get("captured") or 0,
        stats:get("lost") or 0,
        quoted(stats:get("last_error") or "")
    )
    local temp = settings.stats_file .. "." .. worker_tag
    local file = io.open(temp, "w")
    if not file then
        return
    end
    file:write(text)
    file:close()
    os.rename(temp, settings.stats_file)
end

local function write_hour(hour, lines)
    local folder = settings.root .. "/" .. hour
    local failed = make_folders(folder)
    if failed then
        return false, failed
    end
    local path = files[hour]
    if not path then
        local now = ngx.now()
        path = string.format("%s/%s-%03d-%s.jsonl%s", folder, os.date("!%M-%S", math.floor(now)),
            math.floor((now % 1) * 1000), worker_tag, settings.seal_after_s and PART or "")
        files[hour] = path
        opened_at[hour] = now
    end
    local file, err = io.open(path, "a")
    if not file then
        made[folder] = nil -- made again on the next flush (someone may have removed it)
        return false, err
    end
    local ok, write_err = file:write(table.concat(lines))
    local closed, close_err = file:close()
    if not ok then
        return false, write_err
    end
    if not closed then
        return false, close_err
    end
    return true
end

-- Seal mode: rename a finished file to its final name; the next record of its hour starts a new file.
local function seal(hour)
    local path = files[hour]
    files[hour], opened_at[hour] = nil, nil
    local ok, err = os.rename(path, string.sub(path, 1, -#PART - 1))
    if not ok then
        ngx.shared.mlc_capture:set("last_error", "sealing " .. path .. " failed: " .. tostring(err))
    end
end

-- Seal mode: seal the files that are old enough, or every one when the worker exits.
local function seal_files(final)
    local now = ngx.now()
    for hour, started in pairs(opened_at) do
        if final or now - started >= settings.seal_after_s then
            seal(hour)
        end
    end
end

-- Write every record this worker holds; count what is written and what is lost.
local function write_pending()
    if pending_lines == 0 then
        return
    end
    local batch = pending
    pending, pending_lines, pending_bytes = {}, 0, 0
    local stats = ngx.shared.mlc_capture
    for hour, lines in pairs(batch) do
        local ok, err = write_hour(hour, lines)
        if ok then
            stats:incr("captured", #lines, 0)
        else
            lose(#lines, "writing " .. settings.root .. "/" .. hour .. " failed: " .. tostring(err))
        end
    end
    write_stats()
end

-- Write what is pending, and in seal mode seal the files that are due (final: the worker exits, every file is).
function M.flush(final)
    write_pending()
    if settings.seal_after_s then
        seal_files(final)
    end
end

-- The timer runs once more, "premature", when the worker exits: that run writes and seals what is left too.
local function on_timer(premature)
    M.flush(premature)
end

-- Called in init_worker_by_lua with the rendered settings.
-- Take the rendered settings (init_worker does; a test of M.encoded may alone).
function M.configure(config)
    settings = config
end

function M.init_worker(config)
    M.configure(config)
    worker_tag = string.format("%s-%d", string.sub(ngx.md5(tostring(ngx.now()) .. ngx.worker.pid() .. math.random()),
        1, 12), ngx.worker.pid())
    math.randomseed(ngx.now() * 1000 + ngx.worker.pid())
    local ok, err = ngx.timer.every(settings.flush_interval_s, on_timer)
    if not ok then
        ngx.log(ngx.ERR, "mlc_capture: no flush timer: ", err)
    end
    write_stats() -- the counters show from the start, even when nothing is sampled
end

-- Whether this request is sampled: drawn once, at its first body chunk (or in the log phase if none came).
local function sampled(ctx)
    local drawn = ctx.mlc_sampled
    if drawn == nil then
        drawn = math.random() * 100 < settings.percent
        ctx.mlc_sampled = drawn
    end
    return drawn
end

-- Body filter: keep the response body of a sampled request.
function M.body_filter()
    local ctx = ngx.ctx
    if sampled(ctx) and settings.output then
        local chunk = ngx.arg[1]
        if chunk ~= "" then
            local kept = ctx.mlc_output
            if kept == nil then
                kept = {}
                ctx.mlc_output = kept
            end
            kept[#kept + 1] = chunk
        end
    end
end

-- Log phase: the record of a sampled request the model answered with 2xx, queued for the next flush.
function M.log()
    local ctx = ngx.ctx
    if not sampled(ctx) then
        return
    end
    local status = ngx.status
    if status < 200 or status > 299 then
        return
    end
    local inference_time, hour = times_of(math.floor(ngx.req.start_time()))
    local data = {}
    if settings.input then
        data[#data + 1] = '"endpointInput":' .. side("INPUT", ngx.var.http_content_type, request_body())
    end
    if settings.output then
        data[#data + 1] = '"endpointOutput":'
            .. side("OUTPUT", ngx.var.sent_http_content_type, table.concat(ctx.mlc_output or {}))
    end
    local metadata = '"eventId":"' .. event_id() .. '"'
    local inference_id = ngx.var.http_x_amzn_sagemaker_inference_id
    if inference_id then
        metadata = metadata .. ',"inferenceId":' .. quoted(inference_id)
    end
    metadata = metadata .. ',"inferenceTime":"' .. inference_time .. '"'
    local line = '{"captureData":{' .. table.concat(data, ",") .. '},"eventMetadata":{' .. metadata
        .. '},"eventVersion":"0"}\n'
    if pending_bytes + #line > settings.max_pending_bytes then
        lose(1, "more than " .. settings.max_pending_bytes .. " bytes waited to be written: the destination is too slow")
        return
    end
    local lines = pending[hour]
    if lines == nil then
        lines = {}
        pending[hour] = lines
    end
    lines[#lines + 1] = line
    pending_lines = pending_lines + 1
    pending_bytes = pending_bytes + #line
end

return M
