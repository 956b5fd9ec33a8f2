// Vigil: event-driven cost and security monitoring on Azure Functions. Deploy with `azd up`.
// Subscription scope, because Vigil creates its resource group and works across monitored subscriptions.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; used to name resources and tag them (azd-env-name).')
param environmentName string

@minLength(1)
@description('Region for Vigil\'s resources. Must offer Flex Consumption.')
param location string

@description('Name of Vigil\'s resource group (default rg-<environmentName>).')
param resourceGroupName string = ''

@description('Comma-separated ids of the subscriptions Vigil monitors (empty: only the deployment subscription).')
param monitoredSubscriptionIds string = ''

@description('Management group to assign the read (and remediation) roles at instead of each subscription; assigned by scripts/postprovision.sh.')
param monitoredManagementGroupId string = ''

@description('Create a daily Cost Management export in each monitored subscription.')
param costExportEnabled bool = true

@description('Export dataset: FocusCost (FOCUS, actual and amortized in one), ActualCost or AmortizedCost.')
@allowed([
  'FocusCost'
  'ActualCost'
  'AmortizedCost'
])
param costExportDataset string = 'FocusCost'

@description('Dataset schema version (FocusCost: 1.0, 1.0r2 ...; ActualCost/AmortizedCost: 2021-10-01 ...). Empty: the default for the dataset (costExportDefaultVersions).')
param costExportDatasetVersion string = ''

@allowed([
  'Parquet'
  'Csv'
])
param costExportFormat string = 'Parquet'

@description('Start of the export schedule (ISO 8601); Cost Management rejects a start in the past. Defaults to an hour after the deployment.')
param costExportStartDate string = dateTimeAdd(utcNow(), 'PT1H')

@description('Create the remediation custom role (infra/remediation-permissions.json) and assign it at the monitored scopes.')
param remediationEnabled bool = false

@description('Operator principal (azd: AZURE_PRINCIPAL_ID) granted Key Vault Secrets Officer so they can set secrets.')
param principalId string = ''

@description('Secrets for Key Vault: secret name (secretName in infra/app-settings.json) -> value.')
@secure()
param secretValues object = {}

@description('Client id of the Entra ID app registration for sign-in to the console and card action pages (docs/deployment.md). Empty: App Service Authentication stays off.')
param authClientId string = ''

@description('Flex Consumption instance cap.')
param maximumInstanceCount int = 40

@description('Flex Consumption instance memory (MB): 512, 2048 or 4096 (checked in modules/functionapp.bicep).')
param instanceMemoryMB int = 2048

@description('Log Analytics retention in days.')
param logRetentionDays int = 30

@description('Days a deleted Key Vault stays recoverable (7-90). Purge protection keeps its name reserved that long.')
param keyVaultRetentionDays int = 90

var settingsSpec = loadJsonContent('app-settings.json')
var defaults = settingsSpec.defaults
var abbreviation = 'vigil'
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
  application: 'vigil'
}
var rgName = !empty(resourceGroupName) ? resourceGroupName : 'rg-${environmentName}'
var monitoredList = replace(replace(monitoredSubscriptionIds, ' ', ''), ';', ',')
var monitored = empty(monitoredList) ? [subscription().subscriptionId] : split(monitoredList, ',')
var monitoredScopes = [for subscriptionId in monitored: '/subscriptions/${subscriptionId}']
var useManagementGroup = !empty(monitoredManagementGroupId)
var deploymentContainerName = 'deployment'
var functionAppName = 'func-${abbreviation}-${resourceToken}'
var storageAccountName = 'st${abbreviation}${resourceToken}'
var storageTopicName = 'evgt-${abbreviation}-storage-${resourceToken}'
var subscriptionTopicName = 'evgt-${abbreviation}-arm-${resourceToken}'
// Each monitored subscription's system topic lives in Vigil's resource group (deployment subscription) or
// in <rg>-events (any other subscription). Computed from the inputs, never from module outputs: a variable
// `for` body must be known when the deployment starts (Bicep BCP182).
var eventsResourceGroups = [
  for subscriptionId in monitored: (subscriptionId == subscription().subscriptionId) ? rgName : '${rgName}-events'
]
// Dataset versions Cost Management accepts per dataset type: FOCUS exports are versioned 1.0, 1.0r2 ...;
// the actual and amortized cost-and-usage datasets are versioned by date (2021-10-01 is the current one).
var costExportDefaultVersions = {
  FocusCost: '1.0'
  ActualCost: '2021-10-01'
  AmortizedCost: '2021-10-01'
}
var costExportVersion = empty(costExportDatasetVersion) ? costExportDefaultVersions[costExportDataset] : costExportDatasetVersion

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: rgName
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'vigil-identity'
  scope: rg
  params: {
    appIdentityName: 'id-${abbreviation}-${resourceToken}'
    eventsIdentityName: 'id-${abbreviation}-events-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'vigil-monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-${abbreviation}-${resourceToken}'
    appInsightsName: 'appi-${abbreviation}-${resourceToken}'
    location: location
    tags: tags
    retentionInDays: logRetentionDays
    appPrincipalId: identity.outputs.appPrincipalId
  }
}

module storage 'modules/storage.bicep' = {
  name: 'vigil-storage'
  scope: rg
  params: {
    name: storageAccountName
    location: location
    tags: tags
    containerNames: concat([deploymentContainerName], settingsSpec.storage.containers)
    queueNames: settingsSpec.storage.queues
    tableNames: settingsSpec.storage.tables
    deadLetterContainerName: defaults.DEADLETTER_CONTAINER
    appPrincipalId: identity.outputs.appPrincipalId
    eventsPrincipalId: identity.outputs.eventsPrincipalId
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'vigil-keyvault'
  scope: rg
  params: {
    name: 'kv-${abbreviation}-${take(resourceToken, 13)}'
    location: location
    tags: tags
    appPrincipalId: identity.outputs.appPrincipalId
    operatorPrincipalId: principalId
    secretValues: secretValues
    softDeleteRetentionInDays: keyVaultRetentionDays
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'vigil-functionapp'
  scope: rg
  params: {
    name: functionAppName
    planName: 'plan-${abbreviation}-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.appIdentityId
    identityClientId: identity.outputs.appClientId
    storageBlobEndpoint: storage.outputs.blobEndpoint
    storageQueueEndpoint: storage.outputs.queueEndpoint
    storageTableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerName: deploymentContainerName
    appInsightsConnectionString: monitoring.outputs.connectionString
    keyVaultUri: keyVault.outputs.uri
    settingsSpec: settingsSpec
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    authClientId: authClientId
  }
}

module storageTopic 'modules/system-topic.bicep' = {
  name: 'vigil-storage-topic'
  scope: rg
  params: {
    name: storageTopicName
    location: location
    tags: tags
    source: storage.outputs.id
    topicType: 'Microsoft.Storage.StorageAccounts'
    eventsIdentityId: identity.outputs.eventsIdentityId
  }
}

module remediationRole 'modules/remediation-role.bicep' = if (remediationEnabled && !useManagementGroup) {
  name: 'vigil-remediation-role'
  params: {
    environmentName: environmentName
    // The deployment subscription first: the role definition is created there.
    assignableScopes: union([subscription().id], monitoredScopes)
  }
}

module monitoredSubscriptions 'modules/monitored-subscription.bicep' = [
  for (subscriptionId, i) in monitored: {
    name: 'vigil-monitored-${take(uniqueString(subscriptionId, environmentName), 8)}'
    scope: subscription(subscriptionId)
    params: {
      location: location
      tags: tags
      appPrincipalId: identity.outputs.appPrincipalId
      assignReadRoles: !useManagementGroup
      remediationRoleGuid: (remediationEnabled && !useManagementGroup) ? remediationRole.outputs.roleGuid : ''
      eventsResourceGroupName: eventsResourceGroups[i]
      createEventsResourceGroup: subscriptionId != subscription().subscriptionId
      topicName: subscriptionTopicName
      eventsIdentityId: identity.outputs.eventsIdentityId
      costExportEnabled: costExportEnabled
      costExportName: 'vigil-${environmentName}-daily'
      costExportDataset: costExportDataset
      costExportDatasetVersion: costExportVersion
      costExportFormat: costExportFormat
      costExportStartDate: costExportStartDate
      storageAccountId: storage.outputs.id
      exportsContainerName: defaults.EXPORTS_CONTAINER
    }
    // The deployment subscription's topic goes into Vigil's resource group.
    dependsOn: [
      rg
    ]
  }
]

module exportWriters 'modules/container-access.bicep' = if (costExportEnabled) {
  name: 'vigil-export-writers'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    containerName: defaults.EXPORTS_CONTAINER
    principalIds: [for (subscriptionId, i) in monitored: monitoredSubscriptions[i].outputs.exportPrincipalId]
  }
}

// Read by azd (azd env get-values) and by the hooks (scripts/postprovision.sh, scripts/postdeploy.sh).
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output VIGIL_AUTH_CLIENT_ID string = authClientId
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_STORAGE_ACCOUNT_ID string = storage.outputs.id
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output VIGIL_APP_PRINCIPAL_ID string = identity.outputs.appPrincipalId
output VIGIL_EVENTS_IDENTITY_ID string = identity.outputs.eventsIdentityId
output VIGIL_STORAGE_TOPIC_NAME string = storageTopic.outputs.name
output VIGIL_SUBSCRIPTION_TOPIC_NAME string = subscriptionTopicName
output VIGIL_MONITORED_SUBSCRIPTION_IDS string = join(monitored, ',')
output VIGIL_EVENTS_RESOURCE_GROUPS string = join(eventsResourceGroups, ',')
output VIGIL_EXPORTS_CONTAINER string = defaults.EXPORTS_CONTAINER
output VIGIL_DEADLETTER_CONTAINER string = defaults.DEADLETTER_CONTAINER
output VIGIL_MANAGEMENT_GROUP_ID string = monitoredManagementGroupId
output VIGIL_REMEDIATION_ENABLED bool = remediationEnabled
