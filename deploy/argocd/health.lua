-- Argo CD health check for bedrock.modelops.io/BedrockImportedModel.
-- Install: argocd-cm key "resource.customizations.health.bedrock.modelops.io_BedrockImportedModel"
-- (see deploy/argocd/argocd-cm-patch.yaml). Written for Argo CD's Lua 5.1 (gopher-lua).
local hs = {status = "Progressing", message = "Waiting for the operator to report status"}

local function condition(ctype)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == ctype then
      return c
    end
  end
  return nil
end

local function text(c)
  if c == nil then
    return ""
  end
  return (c.reason or "") .. ": " .. (c.message or "")
end

local paused = condition("Paused")
if paused ~= nil and paused.status == "True" then
  hs.status = "Suspended"
  hs.message = text(paused)
  return hs
end

if obj.status == nil or obj.status.observedGeneration == nil
    or obj.status.observedGeneration ~= obj.metadata.generation then
  return hs
end

-- Ready=True means the model of the spec's revision serves; during an update it is False (Updating and
-- its reason), while status.modelArn still names the model that serves until the new one is promoted.
local ready = condition("Ready")
if ready == nil then
  return hs
end

-- Ready's own observedGeneration: a pass that bumped status.observedGeneration without deciding anything
-- (the policies could not be read) leaves the Ready of an older generation behind
if ready.observedGeneration ~= nil and ready.observedGeneration ~= obj.metadata.generation then
  hs.message = "Ready describes generation " .. tostring(ready.observedGeneration) .. ", not " ..
    tostring(obj.metadata.generation)
  return hs
end

if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = text(ready)
  return hs
end

-- failed for good for what git asks, or refused by a BedrockImportPolicy (a model of an earlier revision
-- may still serve: the message says so)
if obj.status.failure ~= nil or obj.status.phase == "Failed" or obj.status.phase == "Blocked" then
  hs.status = "Degraded"
  hs.message = text(ready)
  return hs
end

hs.status = "Progressing"
hs.message = text(ready)
return hs
