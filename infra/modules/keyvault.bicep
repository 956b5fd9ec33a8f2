// Key Vault for the app's secrets (webhook URLs, SMTP credentials, the link-signing key): RBAC only,
// soft delete and purge protection on. The Function App reads secrets through Key Vault references.

param name string
param location string
param tags object = {}

@description('Principal id of the Function App identity (Key Vault Secrets User).')
param appPrincipalId string

@description('Optional operator principal (azd sets AZURE_PRINCIPAL_ID) granted Key Vault Secrets Officer to set secrets.')
param operatorPrincipalId string = ''

@description('Secrets to store: Key Vault secret name -> value. Names come from infra/app-settings.json (secretName).')
@secure()
param secretValues object = {}

@description('Days a deleted vault or secret can be recovered (7-90).')
@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int = 90

// Built-in role definition ids: https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/security
var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
var keyVaultSecretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  //checkov:skip=CKV_AZURE_109: the vault is reached over its public endpoint (no VNet in the default deployment); access is Entra RBAC only
  //checkov:skip=CKV_AZURE_189: same as CKV_AZURE_109: Flex Consumption without VNet integration resolves Key Vault references over the public endpoint
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource secrets 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [
  for secret in items(secretValues): {
    //checkov:skip=CKV_AZURE_41: webhook URLs and SMTP passwords are rotated by their issuers, not on a fixed schedule; an expiry date would silently break alert delivery
    parent: vault
    name: secret.key
    properties: {
      value: secret.value
      contentType: 'text/plain'
    }
  }
]

resource appSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, appPrincipalId, keyVaultSecretsUser)
  scope: vault
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
  }
}

resource operatorSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorPrincipalId)) {
  name: guid(vault.id, operatorPrincipalId, keyVaultSecretsOfficer)
  scope: vault
  properties: {
    principalId: operatorPrincipalId
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsOfficer)
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
