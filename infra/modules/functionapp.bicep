// Function App on Flex Consumption (Linux, Python 3.11) with a user-assigned managed identity.
// App settings come from infra/app-settings.json, generated from vigil/settings.py:
//   infra: true   -> a value this module computes (infraValues below);
//   secret: true  -> a Key Vault reference resolved with the user-assigned identity;
//   otherwise     -> the settings model's default.

param name string
param planName string
param location string
param tags object = {}

@description('Resource id of the user-assigned identity the app runs as.')
param identityId string

@description('Client id of that identity.')
param identityClientId string

param storageBlobEndpoint string
param storageQueueEndpoint string
param storageTableEndpoint string

@description('Blob container holding the deployment package.')
param deploymentContainerName string

param appInsightsConnectionString string

@description('Key Vault URI, ending with a slash (https://<vault>.vault.azure.net/).')
param keyVaultUri string

@description('The generated settings document (infra/app-settings.json).')
param settingsSpec object

@description('Python version of the Flex Consumption runtime.')
@allowed([
  '3.11'
])
param pythonVersion string = '3.11'

@description('Upper bound on instances; caps the bill during an event storm.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

// The sizes Flex Consumption offers: 512 MB (0.25 vCPU), 2,048 MB (1 vCPU, the default) and 4,096 MB (2 vCPU),
// per "Instance sizes" in https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan. The published
// Microsoft.Web/sites@2024-04-01 type declares instanceMemoryMB as a plain int, so this list is the only check.
@description('Instance memory size in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Client id of the Entra ID app registration that signs users in to the console and the card action pages (App Service Authentication). Empty: authentication stays off, the console answers 503 and approvals are refused.')
param authClientId string = ''

@description('Entra ID tenant of that registration.')
param authTenantId string = tenant().tenantId

// Paths App Service Authentication lets through without a signed-in user. Everything else (the console under
// /api/console/ and the card action page /api/alerts/action, where approvals need X-MS-CLIENT-PRINCIPAL-NAME)
// redirects to the Entra ID login. These callers are machines that authenticate with keys instead:
//   /runtime/webhooks/eventgrid     Event Grid delivers here with the eventgrid_extension system key;
//   /api/health                     monitoring probes with a function key;
//   /api/alerts/silences[/{id}]     the silences API, called by scripts and the CLI with a function key.
// A trailing /* matches everything below a path (MicrosoftDocs/azure-docs#86514, the product team's answer).
// The function keys still apply on these paths: excluding a path from sign-in does not make it anonymous.
var authEnabled = !empty(authClientId)
var authExcludedPaths = [
  '/runtime/webhooks/eventgrid'
  '/api/health'
  '/api/alerts/silences'
  '/api/alerts/silences/*'
]

var infraValues = {
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  AzureWebJobsStorage__blobServiceUri: storageBlobEndpoint
  AzureWebJobsStorage__queueServiceUri: storageQueueEndpoint
  AzureWebJobsStorage__tableServiceUri: storageTableEndpoint
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AZURE_CLIENT_ID: identityClientId
  VIGIL_PUBLIC_BASE_URL: 'https://${name}.azurewebsites.net'
}

// Key Vault references carry no version, so the app always reads the latest version of a secret.
var appSettings = [
  for setting in settingsSpec.settings: {
    name: setting.name
    value: setting.infra ? infraValues[setting.name] : (setting.secret ? '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/${setting.secretName}/)' : setting.value)
  }
]

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  //checkov:skip=CKV_AZURE_225: availability zones for Flex Consumption exist only in some regions and Vigil tolerates minutes of downtime (events are retried for 24 h, timers catch up); set zoneRedundant where supported
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  //checkov:skip=CKV_AZURE_17: Event Grid webhook delivery and the signed approve/ack links cannot present client certificates
  //checkov:skip=CKV_AZURE_222: Event Grid delivers to the function's webhook over the public endpoint, authenticated by the eventgrid_extension system key
  //checkov:skip=CKV_AZURE_213: the only HTTP function (/api/health) requires a function key, which App Service health-check probes cannot send; the other functions are event-, queue- or timer-triggered
  //checkov:skip=CKV_AZURE_212: Flex Consumption scales instances on demand; there is no fixed instance count to raise
  //checkov:skip=CKV_AZURE_78: Flex Consumption rejects siteConfig.ftpsState (FTPS not supported on Flex); FTP is off through the ftp basicPublishingCredentialsPolicies resource below (allow: false)
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': 'vigil'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    keyVaultReferenceIdentity: identityId
    // No siteConfig.ftpsState: ARM rejects it on Flex Consumption ("FTPS not supported", Flex Consumption plan
    // deprecations in https://learn.microsoft.com/azure/azure-functions/functions-app-settings). FTP is off
    // through the ftp basicPublishingCredentialsPolicies below. scripts/bicepcheck/flex.py holds the full list.
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      http20Enabled: true
      appSettings: appSettings
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
  }
}

// No basic-auth publishing: azd deploys with an Entra token.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

// App Service Authentication (Easy Auth) with Entra ID. Sign-in uses the OpenID Connect ID token (no client secret to
// store: the registration must issue ID tokens), whose `roles` claim carries Vigil.Reader/Triager/Approver to the app
// in X-MS-CLIENT-PRINCIPAL. The platform strips client-sent X-MS-CLIENT-PRINCIPAL* headers, which is why the console
// refuses to serve unless WEBSITE_AUTH_ENABLED (set by the platform when this is on). Without a client id the settings
// are written switched off (platform.enabled false), so a redeploy without one turns authentication off rather than
// leaving a stale configuration behind.
resource auth 'Microsoft.Web/sites/config@2024-04-01' = {
  //checkov:skip=CKV_AZURE_13: checkov reads the legacy authsettings shape (properties.enabled); authsettingsV2 turns authentication on with properties.platform.enabled (true whenever authClientId is set; tests/infra/test_infra_auth.py pins it)
  //checkov:skip=CKV_AZURE_63: reads httpLoggingEnabled of the 'web' config; authsettingsV2 has no such property (the type check rejects it)
  //checkov:skip=CKV_AZURE_65: reads detailedErrorLoggingEnabled of the 'web' config; authsettingsV2 has no such property
  //checkov:skip=CKV_AZURE_66: reads requestTracingEnabled of the 'web' config; authsettingsV2 has no such property
  //checkov:skip=CKV_AZURE_80: reads netFrameworkVersion of the 'web' config; authsettingsV2 has no such property (and the app is Python)
  //checkov:skip=CKV_AZURE_88: reads azureStorageAccounts of the 'web' config; authsettingsV2 has no such property
  //checkov:skip=CKV_AZURE_222: reads publicNetworkAccess of the 'web' config; the site's own public access is justified on the site resource above
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: authEnabled
    }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'RedirectToLoginPage'
      redirectToProvider: 'azureactivedirectory'
      excludedPaths: authExcludedPaths
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: authEnabled
        registration: {
          clientId: authClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${authTenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            authClientId
            'api://${authClientId}'
          ]
        }
      }
    }
    login: {
      preserveUrlFragmentsForLogins: false
    }
    httpSettings: {
      requireHttps: true
    }
  }
}

output name string = site.name
output id string = site.id
output defaultHostName string = site.properties.defaultHostName
