// An Event Grid system topic. Event subscriptions are NOT created here: they need the Function App's
// eventgrid_extension system key, which exists only after the code is deployed (scripts/postdeploy.sh).
// The topic carries the Event Grid identity, which dead-letters undeliverable events into Vigil's storage.

param name string

@description('global for Microsoft.Resources.Subscriptions; the account region for Microsoft.Storage.StorageAccounts.')
param location string

param tags object = {}

@description('Resource id of the event source (a subscription id path or a storage account id).')
param source string

@allowed([
  'Microsoft.Resources.Subscriptions'
  'Microsoft.Storage.StorageAccounts'
])
param topicType string

@description('Resource id of the user-assigned identity used for dead-lettering.')
param eventsIdentityId string

resource topic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: name
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${eventsIdentityId}': {}
    }
  }
  properties: {
    source: source
    topicType: topicType
  }
}

output name string = topic.name
output id string = topic.id
