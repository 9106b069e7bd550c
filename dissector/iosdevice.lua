-- Wireshark Lua dissector for iPhone traffic over usbmuxd (iosdevice project).
--   usbmux    16-byte LE header (length, version, message, tag) + plist body (XML shown as text)
--   lockdown  u32 BE length + plist (XML or bplist), after a usbmux Connect to port 62078 (or any plist service)
--   afc       40-byte LE header (magic CFA6LPAA, entire_length, this_length, packet_num, operation) + payload
--   tls       after StartSession the lockdown stream is TLS: records are handed to Wireshark's TLS dissector
--             (which decrypts them with the capture's Decryption Secrets Block / key log)
-- Registered on TCP port 27015 (usbmuxd's TCP port; `iosdevice capture` uses it for every connection). Per TCP
-- conversation it tracks the switch from usbmux framing to device traffic after Connect + Result 0.
-- Usage: tshark -X lua_script:dissector/iosdevice.lua -r captures/tools-ifuse-dcim.pcapng -V
--        tshark -X lua_script:dissector/iosdevice.lua -r FILE -T fields -e usbmux.msgtype -e lockdown.request -e afc.opname

local usbmux = Proto("usbmux", "usbmuxd protocol")
local lockdown = Proto("lockdown", "lockdownd (plist service)")
local afc = Proto("afc", "Apple File Conduit")

local MSG = { [1] = "Result", [2] = "Connect", [3] = "Listen", [4] = "DeviceAdd", [5] = "DeviceRemove", [6] = "DevicePaired", [8] = "Plist" }
local AFC_OPS = {
  [0x01] = "Status", [0x02] = "Data", [0x03] = "ReadDir", [0x04] = "ReadFile", [0x05] = "WriteFile", [0x06] = "WritePart",
  [0x07] = "TruncateFile", [0x08] = "RemovePath", [0x09] = "MakeDir", [0x0a] = "GetFileInfo", [0x0b] = "GetDeviceInfo",
  [0x0c] = "WriteFileAtomic", [0x0d] = "FileRefOpen", [0x0e] = "FileRefOpenResult", [0x0f] = "FileRefRead",
  [0x10] = "FileRefWrite", [0x11] = "FileRefSeek", [0x12] = "FileRefTell", [0x13] = "FileRefTellResult",
  [0x14] = "FileRefClose", [0x15] = "FileRefSetFileSize", [0x16] = "GetConnectionInfo", [0x17] = "SetConnectionOptions",
  [0x18] = "RenamePath", [0x19] = "SetFSBlockSize", [0x1a] = "SetSocketBlockSize", [0x1b] = "FileRefLock",
  [0x1c] = "MakeLink", [0x1d] = "GetFileHash", [0x1e] = "SetModTime", [0x1f] = "GetFileHashWithRange",
  [0x20] = "FileRefSetImmutableHint", [0x21] = "GetSizeOfPathContents", [0x22] = "RemovePathAndContents",
  [0x23] = "DirectoryEnumeratorRefOpen", [0x24] = "DirectoryEnumeratorRefOpenResult", [0x25] = "DirectoryEnumeratorRefRead",
  [0x26] = "DirectoryEnumeratorRefClose", [0x27] = "FileRefReadWithOffset", [0x28] = "FileRefWriteWithOffset",
}
local AFC_STATUS = {
  [0] = "SUCCESS", "UNKNOWN_ERROR", "OP_HEADER_INVALID", "NO_RESOURCES", "READ_ERROR", "WRITE_ERROR", "UNKNOWN_PACKET_TYPE",
  "INVALID_ARG", "OBJECT_NOT_FOUND", "OBJECT_IS_DIR", "PERM_DENIED", "SERVICE_NOT_CONNECTED", "OP_TIMEOUT", "TOO_MUCH_DATA",
  "END_OF_DATA", "OP_NOT_SUPPORTED", "OBJECT_EXISTS", "OBJECT_BUSY", "NO_SPACE_LEFT", "OP_WOULD_BLOCK", "IO_ERROR",
  "OP_INTERRUPTED", "OP_IN_PROGRESS", "INTERNAL_ERROR",
}
-- leading u64 arguments per request opcode; the rest of the header payload is NUL-terminated strings
local AFC_U64 = { [0x07] = 1, [0x0d] = 1, [0x0f] = 2, [0x10] = 1, [0x11] = 3, [0x12] = 1, [0x14] = 1, [0x15] = 2, [0x1b] = 2, [0x1c] = 1, [0x1e] = 1 }
local AFC_NO_PATH = { [0x0f] = true, [0x10] = true, [0x11] = true, [0x12] = true, [0x14] = true, [0x15] = true, [0x1b] = true, [0x0b] = true }

local f = {
  u_len = ProtoField.uint32("usbmux.length", "Length", base.DEC),
  u_ver = ProtoField.uint32("usbmux.version", "Version", base.DEC, { [0] = "binary", [1] = "plist" }),
  u_msg = ProtoField.uint32("usbmux.msgtype", "Message", base.DEC, MSG),
  u_tag = ProtoField.uint32("usbmux.tag", "Tag", base.DEC),
  u_mt = ProtoField.string("usbmux.messagetype", "MessageType"),
  u_port = ProtoField.uint16("usbmux.port", "Device port (host order)", base.DEC),
  u_result = ProtoField.uint32("usbmux.result", "Result", base.DEC),
  u_plist = ProtoField.string("usbmux.plist", "Plist"),
  u_payload = ProtoField.bytes("usbmux.payload", "Payload"),
  l_len = ProtoField.uint32("lockdown.length", "Length", base.DEC),
  l_req = ProtoField.string("lockdown.request", "Request"),
  l_key = ProtoField.string("lockdown.key", "Key"),
  l_err = ProtoField.string("lockdown.error", "Error"),
  l_plist = ProtoField.string("lockdown.plist", "Plist"),
  a_magic = ProtoField.string("afc.magic", "Magic"),
  a_entire = ProtoField.uint64("afc.entire_length", "Entire length", base.DEC),
  a_this = ProtoField.uint64("afc.this_length", "This length", base.DEC),
  a_num = ProtoField.uint64("afc.packet_num", "Packet number", base.DEC),
  a_op = ProtoField.uint64("afc.operation", "Operation", base.HEX),
  a_opname = ProtoField.string("afc.opname", "Operation name"),
  a_arg = ProtoField.uint64("afc.arg", "Argument", base.DEC),
  a_path = ProtoField.string("afc.path", "Path"),
  a_status = ProtoField.uint64("afc.status", "Status", base.DEC),
  a_statusname = ProtoField.string("afc.statusname", "Status name"),
  a_datalen = ProtoField.uint64("afc.data_length", "Data length", base.DEC),
  a_data = ProtoField.bytes("afc.data", "Data"),
}
usbmux.fields = { f.u_len, f.u_ver, f.u_msg, f.u_tag, f.u_mt, f.u_port, f.u_result, f.u_plist, f.u_payload }
lockdown.fields = { f.l_len, f.l_req, f.l_key, f.l_err, f.l_plist }
afc.fields = { f.a_magic, f.a_entire, f.a_this, f.a_num, f.a_op, f.a_opname, f.a_arg, f.a_path, f.a_status, f.a_statusname, f.a_datalen, f.a_data }

local tcp_stream = Field.new("tcp.stream")
local tls_dissector = Dissector.get("tls")

-- Per conversation: c2s/s2c modes ("usbmux", "lockdown", "afc", "tls", "data"), the Connect port, and per-frame
-- snapshots so re-dissection (GUI, two passes) sees each frame with the mode it had the first time.
local conv = {}
local frame_mode = {}

local function plist_text(tvb)
  local s = tvb:raw()
  if s:sub(1, 8) == "bplist00" then return "<binary plist, " .. tvb:len() .. " bytes>", nil end
  return s, s
end

local function xml_value(xml, key, kind)
  if not xml then return nil end
  return xml:match("<key>" .. key .. "</key>%s*<" .. kind .. ">([^<]*)</" .. kind .. ">")
end

local function device_mode(st, first_bytes)
  if st.port == 62078 then return "lockdown" end
  if first_bytes:sub(1, 8) == "CFA6LPAA" then return "afc" end
  return "lockdown"
end

local function looks_tls(tvb, off)
  if tvb:len() - off < 3 then return false end
  local t = tvb(off, 1):uint()
  return t >= 20 and t <= 23 and tvb(off + 1, 1):uint() == 3
end

local function dissect_usbmux(tvb, pinfo, tree, off, st, c2s)
  local len = tvb(off, 4):le_uint()
  local t = tree:add(usbmux, tvb(off, len), "usbmux")
  t:add_le(f.u_len, tvb(off, 4))
  t:add_le(f.u_ver, tvb(off + 4, 4))
  t:add_le(f.u_msg, tvb(off + 8, 4))
  t:add_le(f.u_tag, tvb(off + 12, 4))
  local msg = tvb(off + 8, 4):le_uint()
  local info = MSG[msg] or ("message " .. msg)
  if len > 16 then
    local body = tvb(off + 16, len - 16)
    if msg == 8 then
      local text, xml = plist_text(body)
      t:add(f.u_plist, body, text)
      local mt = xml_value(xml, "MessageType", "string")
      if mt then
        t:add(f.u_mt, body, mt)
        info = mt
      elseif xml and xml:find("<key>DeviceList</key>") then info = "DeviceList"
      elseif xml and xml:find("<key>BUID</key>") then info = "BUID"
      elseif xml and xml:find("<key>PairRecordData</key>") then info = "PairRecordData"
      end
      if mt == "Connect" then
        local n = tonumber(xml_value(xml, "PortNumber", "integer") or "")
        if n then
          if n < 0 then n = n + 65536 end
          local port = ((n % 256) * 256) + math.floor(n / 256)
          t:add(f.u_port, body, port)
          st.port = port
          st.connect_pending = true
          info = info .. " port " .. port
        end
      elseif mt == "Result" then
        local r = tonumber(xml_value(xml, "Number", "integer") or "")
        if r then
          t:add(f.u_result, body, r)
          info = info .. " " .. r
          if not c2s and st.connect_pending and r == 0 then st.connected = true end
        end
      end
    else
      t:add(f.u_payload, body)
      if msg == 1 and len == 20 then
        local r = tvb(off + 16, 4):le_uint()
        t:add_le(f.u_result, tvb(off + 16, 4))
        info = "Result " .. r
        if not c2s and st.connect_pending and r == 0 then st.connected = true end
      elseif msg == 2 and len == 24 then
        st.port = tvb(off + 20, 2):uint()
        st.connect_pending = true
        t:add(f.u_port, tvb(off + 20, 2))
        info = "Connect port " .. st.port
      end
    end
  end
  t:append_text(": " .. info .. " (tag " .. tvb(off + 12, 4):le_uint() .. ")")
  return info
end

local function dissect_lockdown(tvb, pinfo, tree, off, n)
  local body = tvb(off + 4, n)
  local t = tree:add(lockdown, tvb(off, 4 + n), "lockdown")
  t:add(f.l_len, tvb(off, 4))
  local text, xml = plist_text(body)
  t:add(f.l_plist, body, text)
  local req = xml_value(xml, "Request", "string")
  local info = req or "plist"
  if req then t:add(f.l_req, body, req) end
  local key = xml_value(xml, "Key", "string")
  if key then
    t:add(f.l_key, body, key)
    info = info .. " " .. key
  end
  local err = xml_value(xml, "Error", "string")
  if err then
    t:add(f.l_err, body, err)
    info = info .. " Error " .. err
  end
  t:append_text(": " .. info)
  return info
end

local function u64(tvb, o) return tvb(o, 8):le_uint64():tonumber() end

local function dissect_afc(tvb, pinfo, tree, off, entire, c2s)
  local this = u64(tvb, off + 16)
  local op = u64(tvb, off + 32)
  local name = AFC_OPS[op] or string.format("0x%x", op)
  local t = tree:add(afc, tvb(off, entire), "afc")
  t:add(f.a_magic, tvb(off, 8))
  t:add_le(f.a_entire, tvb(off + 8, 8))
  t:add_le(f.a_this, tvb(off + 16, 8))
  t:add_le(f.a_num, tvb(off + 24, 8))
  t:add_le(f.a_op, tvb(off + 32, 8))
  t:add(f.a_opname, tvb(off + 32, 8), name)
  local info = name .. " #" .. u64(tvb, off + 24)
  local hp = this - 40
  if c2s and hp > 0 then
    local nargs = AFC_U64[op] or 0
    local p = off + 40
    for _ = 1, nargs do
      if p + 8 <= off + this then
        t:add_le(f.a_arg, tvb(p, 8))
        p = p + 8
      end
    end
    if not AFC_NO_PATH[op] then
      while p < off + this do
        local s = tvb(p, off + this - p):stringz()
        if s ~= "" then
          t:add(f.a_path, tvb(p, math.min(#s + 1, off + this - p)), s)
          info = info .. " " .. s
        end
        p = p + #s + 1
      end
    end
  end
  if not c2s and op == 1 and entire >= 48 then
    local pos = off + 40
    local s = u64(tvb, pos)
    t:add_le(f.a_status, tvb(pos, 8))
    t:add(f.a_statusname, tvb(pos, 8), AFC_STATUS[s] or tostring(s))
    info = info .. " " .. (AFC_STATUS[s] or tostring(s))
  end
  local dlen = entire - this
  t:add(f.a_datalen, tvb(off + 16, 8), UInt64(dlen))
  if dlen > 0 then
    t:add(f.a_data, tvb(off + this, dlen))
    info = info .. " +" .. dlen .. " bytes"
  end
  t:append_text(": " .. info)
  return info
end

function usbmux.dissector(tvb, pinfo, tree)
  local sid = tcp_stream()
  if not sid then return 0 end
  sid = sid.value
  local st = conv[sid]
  if not st then
    st = { c2s = "usbmux", s2c = "usbmux" }
    conv[sid] = st
  end
  -- The server side is the port the dissector table matched (27015, or the port given with -d tcp.port==N,usbmux);
  -- remembered per conversation, falling back to the lower port.
  if not st.server_port then
    local m = pinfo.match_uint
    if m ~= nil and (m == pinfo.src_port or m == pinfo.dst_port) then st.server_port = m
    else st.server_port = math.min(pinfo.src_port, pinfo.dst_port) end
  end
  local c2s = pinfo.dst_port == st.server_port
  local key = pinfo.number .. ":" .. (c2s and "c" or "s")
  local mode
  if pinfo.visited and frame_mode[key] then mode = frame_mode[key] else mode = c2s and st.c2s or st.s2c; frame_mode[key] = mode end
  local off = 0
  local len = tvb:len()
  local infos = {}
  local proto_col
  while off < len do
    local left = len - off
    if mode == "usbmux" then
      if left < 16 then pinfo.desegment_offset = off; pinfo.desegment_len = 16 - left; break end
      local l = tvb(off, 4):le_uint()
      if l < 16 then break end
      if left < l then pinfo.desegment_offset = off; pinfo.desegment_len = l - left; break end
      infos[#infos + 1] = dissect_usbmux(tvb, pinfo, tree, off, st, c2s)
      proto_col = "usbmux"
      off = off + l
      if not pinfo.visited then
        if c2s and st.connect_pending then mode = "device" end
        if not c2s and st.connected then mode = "device" end
      end
    elseif mode == "device" then
      mode = device_mode(st, tvb(off, math.min(left, 8)):raw())
    elseif mode == "lockdown" then
      if looks_tls(tvb, off) then
        mode = "tls"
      else
        if left < 4 then pinfo.desegment_offset = off; pinfo.desegment_len = 4 - left; break end
        local n = tvb(off, 4):uint()
        if n == 0 or n > 16777216 then mode = "data" else
          if left < 4 + n then pinfo.desegment_offset = off; pinfo.desegment_len = 4 + n - left; break end
          infos[#infos + 1] = dissect_lockdown(tvb, pinfo, tree, off, n)
          proto_col = proto_col or "lockdown"
          off = off + 4 + n
        end
      end
    elseif mode == "afc" then
      if left < 40 then pinfo.desegment_offset = off; pinfo.desegment_len = 40 - left; break end
      if tvb(off, 8):string() ~= "CFA6LPAA" then mode = "data" else
        local entire = u64(tvb, off + 8)
        if entire < 40 or entire > 67108864 then mode = "data" else
          if left < entire then pinfo.desegment_offset = off; pinfo.desegment_len = entire - left; break end
          infos[#infos + 1] = dissect_afc(tvb, pinfo, tree, off, entire, c2s)
          proto_col = proto_col or "AFC"
          off = off + entire
        end
      end
    elseif mode == "tls" then
      if tls_dissector then tls_dissector:call(tvb(off):tvb(), pinfo, tree) end
      off = len
    else
      tree:add(usbmux, tvb(off), "device data")
      off = len
    end
  end
  if not pinfo.visited then
    if c2s then st.c2s = mode else st.s2c = mode end
  end
  if #infos > 0 then
    pinfo.cols.protocol = proto_col
    pinfo.cols.info = table.concat(infos, ", ")
  end
  return len
end

-- Lockdown frames inside TLS: Wireshark's TLS dissector decrypts the records (key log from the capture's DSB or
-- the tls.keylog_file preference) and hands the plaintext to the dissector registered for the port in "tls.port".
local lockdown_tls = Proto("lockdown_tls", "lockdownd inside TLS")
function lockdown_tls.dissector(tvb, pinfo, tree)
  local off, len = 0, tvb:len()
  local infos = {}
  while off < len do
    local left = len - off
    if left < 4 then pinfo.desegment_offset = off; pinfo.desegment_len = 4 - left; break end
    local n = tvb(off, 4):uint()
    if n == 0 or n > 16777216 then break end
    if left < 4 + n then pinfo.desegment_offset = off; pinfo.desegment_len = 4 + n - left; break end
    infos[#infos + 1] = dissect_lockdown(tvb, pinfo, tree, off, n)
    off = off + 4 + n
  end
  if #infos > 0 then
    pinfo.cols.protocol = "lockdown/TLS"
    pinfo.cols.info = table.concat(infos, ", ")
  end
  return len
end

DissectorTable.get("tcp.port"):add(27015, usbmux)
local tls_port = DissectorTable.get("tls.port")
if tls_port then tls_port:add(27015, lockdown_tls) end
